"""Loopback servers for the tests: a threaded HTTP/1.1 server that hands every request to one
function, and a raw socket server that hands it every connection."""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
from collections.abc import Callable


def serve(dispatch: Callable[[http.server.BaseHTTPRequestHandler], None],
          tls: ssl.SSLContext | None = None) -> http.server.ThreadingHTTPServer:
    """Start serving on 127.0.0.1 (a free port; HTTPS with a server context) in a daemon thread;
    stop with server.shutdown() and server.server_close()."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _any(self):
            dispatch(self)

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _any

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def serve_raw(handle: Callable[[socket.socket], None]) -> socket.socket:
    """Accept connections on 127.0.0.1 (a free port), each handled in a daemon thread, until the
    returned listening socket is closed."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)

    def accept() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:  # closed
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return sock
