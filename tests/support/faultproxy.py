"""A fault-injecting reverse proxy in front of a real registry.

Rules match requests by method and path pattern and, a bounded number of
times, answer with a status (429 + Retry-After, 5xx, 4xx), reset the
connection mid-body, or stall; everything else is forwarded unchanged.
"""

from __future__ import annotations

import http.client
import http.server
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

from .httpserve import serve


@dataclass
class Fault:
    method: str
    path: str  # regex searched in the request path
    action: str  # "status", "reset", "stall", "stall_body" (stop reading mid-body) or "slow"
    status: int = 503
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    times: int = 1  # -1: forever
    stall: float = 30.0
    rate: int = 32 * 1024  # bytes per second for "slow"
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.times < 0 or self.hits < self.times) and method == self.method \
            and re.search(self.path, path) is not None


@dataclass
class Seen:
    method: str
    path: str
    status: int | None
    authorization: str | None
    fault: str = ""
    at: float = 0.0
    ended: float = 0.0  # when the proxy finished answering (ordering, never a time limit)


class FaultProxy:
    def __init__(self, upstream: str):
        self.upstream = upstream  # "127.0.0.1:PORT" (plain http)
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.inflight = 0
        self.max_inflight = 0  # concurrent blob uploads (PUT/PATCH) seen at once
        self.forwarded = 0  # request body bytes passed upstream
        self.server = serve(self.handle)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"

    def add(self, *faults: Fault) -> None:
        with self.lock:
            self.faults.extend(faults)

    def requests(self, method: str | None = None, path: str = "") -> list[Seen]:
        return [s for s in self.seen if (method is None or s.method == method) and re.search(path, s.path)]

    def chaos(self, rate: float, seed: int = 0, actions: tuple[Fault, ...] = ()) -> None:
        """Besides the scripted faults, answer a random `rate` of all requests with one of `actions`
        (default: 500, 502, 503, 429 with Retry-After: 0, a reset mid-body), seeded for repeatability."""
        import random
        self._chaos_rng = random.Random(seed)
        self._chaos_rate = rate
        self._chaos_actions = actions or (
            Fault("*", "", "status", 500), Fault("*", "", "status", 502), Fault("*", "", "status", 503),
            Fault("*", "", "status", 429, {"Retry-After": "0"}), Fault("*", "", "reset"))

    def _match(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    return fault
            rate = getattr(self, "_chaos_rate", 0.0)
            if rate and self._chaos_rng.random() < rate:
                return self._chaos_rng.choice(self._chaos_actions)
        return None

    def handle(self, h: http.server.BaseHTTPRequestHandler) -> None:
        method, path = h.command, h.path
        length = int(h.headers.get("Content-Length") or 0)
        fault = self._match(method, path)
        record = Seen(method, path, None, h.headers.get("Authorization"), fault.action if fault else "",
                      time.monotonic())
        self.seen.append(record)
        try:
            self._handle(h, method, path, length, fault, record)
        finally:
            record.ended = time.monotonic()

    def _handle(self, h, method, path, length, fault, record) -> None:
        if fault and fault.action == "reset":
            h.rfile.read(min(length, 64 * 1024) // 2)  # take part of the body, then RST
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
            h.close_connection = True
            return
        if fault and fault.action == "stall_body":
            h.rfile.read(min(length, 64 * 1024))  # take the start of the body, then stop reading
            self.stop_event.wait(fault.stall)
            h.close_connection = True
            return
        if fault and fault.action == "stall":
            self.stop_event.wait(fault.stall)
            h.close_connection = True
            return
        if fault and fault.action == "status":
            _drain(h.rfile, length)
            record.status = fault.status
            h.send_response(fault.status)
            for key, value in fault.headers.items():
                h.send_header(key, value)
            h.send_header("Content-Length", str(len(fault.body)))
            h.end_headers()
            if method != "HEAD":
                h.wfile.write(fault.body)
            return
        uploading = method in ("PUT", "PATCH") and "/blobs/uploads/" in path
        if uploading:
            with self.lock:
                self.inflight += 1
                self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            record.status = self._forward(h, method, path, length, fault.rate if fault else 0)
        finally:
            if uploading:
                with self.lock:
                    self.inflight -= 1

    def _forward(self, h, method, path, length, rate: int = 0) -> int:
        conn = http.client.HTTPConnection(self.upstream, timeout=60)
        headers = {k: v for k, v in h.headers.items() if k.lower() not in ("connection",)}
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for key, value in headers.items():
            conn.putheader(key, value)
        conn.endheaders()
        remaining = length
        while remaining > 0:
            chunk = h.rfile.read(min(remaining, rate // 10 if rate else 1 << 16))
            if not chunk:
                break
            conn.send(chunk)
            remaining -= len(chunk)
            self.forwarded += len(chunk)
            if rate and self.stop_event.wait(0.1):
                break
        resp = conn.getresponse()
        body = resp.read()
        h.send_response(resp.status)
        for key, value in resp.getheaders():
            if key.lower() not in ("connection", "transfer-encoding", "content-length"):
                h.send_header(key, value)
        upstream_length = resp.getheader("Content-Length", "0")
        h.send_header("Content-Length", upstream_length if method == "HEAD" else str(len(body)))
        h.end_headers()
        if method != "HEAD":
            h.wfile.write(body)
        conn.close()
        return resp.status

    def close(self) -> None:
        self.stop_event.set()
        self.server.shutdown()
        self.server.server_close()


def _drain(rfile, length: int) -> None:
    while length > 0:
        chunk = rfile.read(min(length, 1 << 16))
        if not chunk:
            return
        length -= len(chunk)
