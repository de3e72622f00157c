"""A registry that answers with exactly the bytes a test scripts: hostile headers and bodies
that a real server (or http.server's helpers) would never send."""

from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass, field

from .httpserve import serve_raw


@dataclass
class Rule:
    method: str
    path: str  # regex searched in the request path
    response: bytes  # the raw HTTP response, status line to body
    trickle: float = 0.0  # seconds between bytes of the response (0: all at once)
    body_only: bool = False  # trickle the body alone; the status line and headers arrive at once


@dataclass
class HostileRegistry:
    rules: list[Rule] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self._stop = threading.Event()  # ends a trickle when the server closes
        self.sock = serve_raw(self._handle)
        self.host = f"127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self) -> None:
        self._stop.set()
        self.sock.close()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk or (not data and chunk[:1] == b"\x16"):
                    return  # EOF, or a TLS handshake: plain HTTP only (the client falls back)
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            method, path = head.split(b" ")[0].decode(), head.split(b" ")[1].decode()
            length = re.search(rb"(?i)content-length:\s*(\d+)", head)
            remaining = int(length.group(1)) - len(body) if length else 0
            while remaining > 0:
                chunk = conn.recv(min(remaining, 65536))
                if not chunk:
                    break
                remaining -= len(chunk)
            self.seen.append((method, path))
            rule = next((r for r in self.rules if r.method == method and re.search(r.path, path)), None)
            if rule is None:
                response = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            else:
                response = rule.response
            try:
                if rule is not None and rule.trickle:
                    start = response.index(b"\r\n\r\n") + 4 if rule.body_only else 0
                    conn.sendall(response[:start])
                    for i in range(start, len(response)):
                        conn.sendall(response[i:i + 1])
                        if self._stop.wait(rule.trickle):
                            return
                else:
                    conn.sendall(response)
            except OSError:
                return


def raw(status: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    if not any(k.lower() == "content-length" for k in (headers or {})):
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def gzip_bomb(size: int) -> bytes:
    """size bytes of zeros, gzip-compressed (about size/1000 on the wire)."""
    import gzip
    import io
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        chunk = bytes(1 << 20)
        for _ in range(size >> 20):
            gz.write(chunk)
    return buf.getvalue()



