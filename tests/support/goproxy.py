"""A local HTTPS Go module proxy (the GOPROXY protocol: @v/list, .info, .mod, .zip) serving
modules the test writes, optionally behind Basic auth (for .netrc), on 127.0.0.1."""

from __future__ import annotations

import base64
import io
import json
import ssl
import threading
import zipfile
from dataclasses import dataclass, field

from .httpserve import serve
from .tlsca import TestCA


@dataclass
class Module:
    path: str  # lowercase: no case-encoding needed
    version: str
    files: dict[str, str]  # relative path → content; go.mod included

    def zip_bytes(self) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for name, content in sorted(self.files.items()):
                zf.writestr(f"{self.path}@{self.version}/{name}", content)
        return buf.getvalue()


@dataclass
class GoProxy:
    ca: TestCA
    modules: list[Module] = field(default_factory=list)
    user: str = ""
    password: str = ""

    def __post_init__(self) -> None:
        self.requests: list[tuple[str, str | None]] = []  # (path, Authorization)
        self._lock = threading.Lock()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.ca.server_cert, self.ca.server_key)
        self.server = serve(self._dispatch, tls=ctx)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _answer(self, h, status: int, body: bytes = b"", ctype: str = "text/plain", headers=()) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            h.send_header(k, v)
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def _dispatch(self, h) -> None:
        auth = h.headers.get("Authorization")
        with self._lock:
            self.requests.append((h.path, auth))
        if self.user:
            want = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            if auth != want:
                return self._answer(h, 401, b"unauthorized\n", headers=[("WWW-Authenticate", 'Basic realm="goproxy"')])
        path = h.path.split("?")[0].lstrip("/")
        if "/@v/" not in path:
            return self._answer(h, 404, b"not found\n")
        mod_path, _, leaf = path.partition("/@v/")
        versions = [m for m in self.modules if m.path == mod_path]
        if leaf == "list":
            return self._answer(h, 200, "".join(f"{m.version}\n" for m in versions).encode())
        for m in versions:
            if leaf == f"{m.version}.info":
                return self._answer(h, 200, json.dumps({"Version": m.version, "Time": "2026-01-01T00:00:00Z"}).encode(),
                                    "application/json")
            if leaf == f"{m.version}.mod":
                return self._answer(h, 200, m.files["go.mod"].encode())
            if leaf == f"{m.version}.zip":
                return self._answer(h, 200, m.zip_bytes(), "application/zip")
        return self._answer(h, 404, f"not found: {mod_path}/@v/{leaf}\n".encode())
