"""A throwaway test CA and a server certificate for 127.0.0.1, made with openssl."""

from __future__ import annotations

import http.server
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

from .tools import require, run


@dataclass(frozen=True)
class TestCA:
    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_ca(directory: Path, host_ip: str = "127.0.0.1") -> TestCA:
    require("openssl")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = d / "ca.key", d / "ca.pem"
    key, csr, cert, ext = d / "server.key", d / "server.csr", d / "server.pem", d / "ext.cnf"
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key),
         "-out", str(ca_cert), "-days", "2", "-subj", "/CN=leango test CA"])
    run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
         "-subj", f"/CN={host_ip}"])
    ext.write_text(f"subjectAltName=IP:{host_ip},DNS:localhost,DNS:registry.test\nbasicConstraints=CA:FALSE\n"
                   "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
         "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext)])
    for path in d.iterdir():
        path.chmod(0o644)
    return TestCA(ca_cert, cert, key)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello over TLS\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class HTTPSServer:
    """An HTTPS server on 127.0.0.1 in a background thread."""

    def __init__(self, ca: TestCA):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ca.server_cert, ca.server_key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
