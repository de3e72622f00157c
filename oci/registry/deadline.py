"""A deadline for the part of a request that waits on the server: the status line and headers.

Connect and read timeouts bound each socket operation; a server that trickles one byte
every few seconds never trips them. While a request waits for its response, a timer
stands by to shut the connection's socket down when the deadline passes, which ends the
wait with a connection error (bodies leango reads are bounded by httputil.read_capped).
The deadline is set per request by the transport through a context variable.
"""

from __future__ import annotations

import contextvars
import socket
import threading
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ProtocolError

RESPONSE_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("leango_response_deadline",
                                                                                  default=None)


class _DeadlineMixin:
    sock: socket.socket | None

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        seconds = RESPONSE_DEADLINE.get()
        if seconds is None:
            return super().getresponse(*args, **kwargs)  # type: ignore[misc]
        expired = threading.Event()
        timer = threading.Timer(max(0.0, seconds), self._expire, args=(expired,))
        timer.daemon = True
        timer.start()
        try:
            response = super().getresponse(*args, **kwargs)  # type: ignore[misc]
        finally:
            timer.cancel()
        if expired.is_set():
            # The shutdown may have cut the headers short: never hand on what was read.
            response.close()
            raise ProtocolError(f"no complete response within {seconds:g} s")
        return response

    def _expire(self, expired: threading.Event) -> None:
        expired.set()
        sock = self.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class DeadlineHTTPConnection(_DeadlineMixin, HTTPConnection):
    pass


class DeadlineHTTPSConnection(_DeadlineMixin, HTTPSConnection):
    pass


class DeadlineHTTPPool(HTTPConnectionPool):
    ConnectionCls = DeadlineHTTPConnection


class DeadlineHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = DeadlineHTTPSConnection


POOL_CLASSES = {"http": DeadlineHTTPPool, "https": DeadlineHTTPSPool}
