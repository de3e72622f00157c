"""A forward HTTP proxy on 127.0.0.1 for the tests: absolute-form requests (`GET http://h:p/x`)
and CONNECT tunnels. Whatever host a request names, it connects to 127.0.0.1 at that port, so
a test can use a name that is not loopback to the client (and so goes through the proxy) while
every byte stays on this machine. Bytes are relayed as they arrive, so a trickle stays one."""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

from .httpserve import serve_raw


class ForwardProxy:
    def __init__(self) -> None:
        self.seen: list[str] = []  # request lines, as the client sent them
        self.sock = serve_raw(self._handle)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self) -> None:
        self.sock.close()

    def _handle(self, client: socket.socket) -> None:
        with client:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = client.recv(65536)
                if not chunk:
                    return
                data += chunk
            line, _, rest = data.partition(b"\r\n")
            method, target, version = line.decode().split(" ")
            self.seen.append(line.decode())
            if method == "CONNECT":
                port = int(target.rsplit(":", 1)[1])
                forward, first = b"", b"HTTP/1.1 200 Connection established\r\n\r\n"
                rest = rest.partition(b"\r\n\r\n")[2]
            else:
                parts = urlsplit(target)
                port = parts.port or 80
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                forward, first = f"{method} {path} {version}\r\n".encode(), b""
            with socket.create_connection(("127.0.0.1", port)) as upstream:
                if first:
                    client.sendall(first)
                upstream.sendall(forward + rest)
                back = threading.Thread(target=_relay, args=(upstream, client), daemon=True)
                back.start()
                _relay(client, upstream)
                back.join()


def _relay(src: socket.socket, dst: socket.socket) -> None:
    try:
        while chunk := src.recv(65536):
            dst.sendall(chunk)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass
