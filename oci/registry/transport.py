"""HTTP to one registry, in layers (as go-containerregistry's transport package and
oras-go's auth.Client + retry.Policy):

  scheme/TLS (tls.py)   https first; plain http only for loopback or --insecure-registry
  auth (auth.py)        Basic, or Bearer tokens per scope shared by every request
  retry (retry.py)      one policy object, deciding from the error; uploads reuse it
  errors (httputil.py)  every entry of the registry's error body kept on the RegistryError

A request body comes from an opener, so every attempt re-sends from byte 0.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlencode, urlsplit

import requests

from ..._version import user_agent
from ..errors import RegistryError
from .auth import Authorizer, Challenge
from .credentials import Credential
from .deadline import RESPONSE_DEADLINE
from .httputil import drain, error_entries, printable, read_error_body, reason, redact, retry_after
from .proxy import ProxyConfig
from .retry import RETRY_STATUSES, RetryPolicy
from .tls import is_insecure, is_loopback, make_session, plain_http_allowed, verifying_context
from .tokens import fetch_token

__all__ = ["RETRY_STATUSES", "RegistryOptions", "RetryPolicy", "Transport", "is_loopback", "redact"]
log = logging.getLogger(__name__)


class Readable(Protocol):
    """A request body that streams: requests reads it in chunks (and sends Content-Length from len)."""

    def read(self, n: int = -1) -> bytes: ...

    def close(self) -> None: ...


Body = bytes | Callable[[], Readable] | None


@dataclass(frozen=True)
class RegistryOptions:
    insecure_hosts: tuple[str, ...] = ()  # plain http / unverified TLS allowed for these hosts only
    ca_file: Path | None = None  # trusted in addition to the system bundle
    system_ca: Path | None = None  # None: the system bundle, else certifi's
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    response_deadline: float = 120.0  # seconds to wait for a status line and headers, in all
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    concurrency: int = 3
    chunk_size: int = 0  # 0: monolithic PUT; else PATCH in chunks of this size
    # Registries a `leango registry check` found refusing monolithic uploads: (host, chunk size)
    learned_chunks: tuple[tuple[str, int], ...] = ()
    proxy: ProxyConfig = field(default_factory=ProxyConfig)


class Transport:
    """Requests to one registry host; safe to share between threads. close() when done."""

    def __init__(self, host: str, credential: Credential, options: RegistryOptions | None = None, *,
                 session: requests.Session | None = None):
        self.host = host
        self.options = options = options or RegistryOptions()
        self.retry = options.retry
        self.insecure = is_insecure(host, options.insecure_hosts)
        if self.insecure:
            log.warning("TLS verification is off for %s (--insecure-registry)", host)
        self.session = session or make_session(
            host, context=verifying_context(options.system_ca, options.ca_file), insecure=self.insecure)
        self.session.headers["User-Agent"] = user_agent()
        self.base = ""
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        self._ping_lock = threading.Lock()
        self.auth = Authorizer(f"https://{host}", credential, self._fetch_token)

    def close(self) -> None:
        """Release pooled connections."""
        self.session.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- scheme ----------------------------------------------------------------
    def ping(self) -> None:
        """Choose https/http and learn the auth challenge from GET /v2/ (once)."""
        if self.base:
            return
        with self._ping_lock:
            if self.base:
                return
            base, resp = self.retry.run(lambda _attempt: self._probe(), f"GET {self.host}/v2/")
            resp.close()
            if resp.status_code == 401:
                self.auth.learn(resp.headers.get("WWW-Authenticate", ""))
            self.auth.registry_url = base
            self.base = base

    def _probe(self) -> tuple[str, requests.Response]:
        """https first; plain http only for loopback or --insecure-registry hosts whose
        port does not speak TLS at all (never after a certificate failure)."""
        may_fall_back = plain_http_allowed(self.host, self.options.insecure_hosts)
        try:
            return self._probe_at(f"https://{self.host}")
        except requests.exceptions.SSLError as exc:
            if not may_fall_back or "certificate" in str(exc).lower():
                raise self._tls_error(exc) from exc
        except requests.exceptions.Timeout as exc:
            raise RegistryError(f"cannot reach {self.host}: {reason(exc)}") from exc
        except requests.exceptions.ConnectionError as exc:
            if not may_fall_back:
                raise _connect_error(self.host, exc) from exc
        log.debug("%s does not speak TLS; using plain http (loopback or --insecure-registry)", self.host)
        try:
            return self._probe_at(f"http://{self.host}")
        except requests.exceptions.RequestException as exc:
            raise _connect_error(self.host, exc) from exc

    def _probe_at(self, base: str) -> tuple[str, requests.Response]:
        resp = self._send("GET", f"{base}/v2/", {}, None)
        if resp.status_code not in (200, 401, 404):
            raise self.error("GET", f"{base}/v2/", resp)
        return base, resp

    def _tls_error(self, exc: Exception) -> RegistryError:
        return RegistryError(f"TLS verification failed for {self.host}: {reason(exc)} "
                             "(pass --registry-ca FILE with the registry's CA, or --insecure-registry "
                             f"{self.host} to skip verification)", transient=False)

    # -- requests ----------------------------------------------------------------
    def url(self, path: str, **query: str) -> str:
        self.ping()  # the base URL (https or, for loopback/insecure, http) is known after it
        return f"{self.base}{path}" + (f"?{urlencode(query)}" if query else "")

    def _send(self, method: str, url: str, headers: dict[str, str], body: Body) -> requests.Response:
        data = body() if callable(body) else body
        token = RESPONSE_DEADLINE.set(self.options.response_deadline)
        try:
            return self.session.request(
                method, url, headers=headers, data=data, stream=True, allow_redirects=False,
                timeout=(self.options.connect_timeout, self.options.read_timeout),
                proxies=self.options.proxy.requests_proxies(url))
        finally:
            RESPONSE_DEADLINE.reset(token)
            if data is not None and hasattr(data, "close"):
                data.close()

    def request(self, method: str, url: str, *, scopes: tuple[str, ...], expect: tuple[int, ...],
                headers: dict[str, str] | None = None, body: Body = None,
                retry: bool = True, cancel: threading.Event | None = None) -> requests.Response:
        """Send with auth (and, unless retry=False, the retry policy); return a response whose
        status is in expect, else raise RegistryError.

        body is bytes or a zero-argument callable returning a fresh file-like object. cancel: when
        it is set (another upload of the push failed for good), no further attempt is made.
        """
        self.ping()

        def attempt(_n: int) -> requests.Response:
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"{method} {redact(url)} stopped: another request of this push failed")
            return self._attempt(method, url, scopes, expect, headers or {}, body)
        return self.retry.run(attempt, f"{method} {redact(url)}") if retry else attempt(1)

    def _attempt(self, method: str, url: str, scopes: tuple[str, ...], expect: tuple[int, ...],
                 headers: dict[str, str], body: Body) -> requests.Response:
        """One try: at most two more sends to answer 401 challenges, never more."""
        # Credentials only to the registry's own scheme, host and port: never to another host, nor in
        # clear text to its http side (a redirect from https://reg to http://reg).
        target, base = urlsplit(url), urlsplit(self.base)
        same_host = (target.scheme, target.netloc) == (base.scheme, base.netloc)
        authz = self.auth.header(scopes) if same_host else None
        for auth_round in range(3):
            sent = {**headers, "Authorization": authz} if authz else dict(headers)
            started = time.monotonic()
            try:
                resp = self._send(method, url, sent, body)
            except requests.exceptions.SSLError as exc:
                raise self._tls_error(exc) from exc
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                why = reason(exc)
                if time.monotonic() - started >= self.options.response_deadline:
                    why = f"no complete response within {self.options.response_deadline:g} s"
                raise RegistryError(f"{method} {redact(url)} failed: {why}") from exc
            self._warnings(resp)
            if resp.status_code in expect:
                if method != "GET":
                    drain(resp)  # small and unused; reading it lets the connection be reused
                return resp
            if resp.status_code == 401 and same_host and auth_round < 2:
                authz = self.auth.on_unauthorized(resp.headers.get("WWW-Authenticate", ""), scopes, authz)
                resp.close()
                continue
            raise self.error(method, url, resp)
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns or raises

    def error(self, method: str, url: str, resp: requests.Response) -> RegistryError:
        entries = error_entries(read_error_body(resp, self.options.read_timeout))
        detail = "; ".join(str(e) for e in entries) or resp.reason or ""
        if resp.status_code == 401:
            detail = (detail + "; " if detail else "") + "authentication failed"
        return RegistryError(f"{method} {redact(url)} returned HTTP {resp.status_code}"
                             + (f" ({detail})" if detail else ""), status=resp.status_code,
                             errors=entries, retry_after=retry_after(resp))

    def _warnings(self, resp: requests.Response) -> None:
        # distribution spec: Warning: 299 - "text" headers are shown once each.
        for value in resp.raw.headers.getlist("Warning") if resp.raw is not None else []:
            if value.startswith("299 ") and value not in self._warned:
                with self._lock:
                    self._warned.add(value)
                log.warning("registry %s: %s", self.host,
                            printable(value[4:].strip().lstrip("-").strip().strip('"')))

    def _fetch_token(self, challenge: Challenge, scopes: tuple[str, ...], cred: Credential) -> str:
        return fetch_token(self.session, challenge, scopes, cred,
                           timeout=(self.options.connect_timeout, self.options.read_timeout),
                           proxy=self.options.proxy)


class Cancelled(RegistryError):
    """Another upload of the same push failed, or the push was interrupted; this one stopped."""

    def __init__(self, message: str):
        super().__init__(message, transient=False)


def _connect_error(host: str, exc: requests.exceptions.RequestException) -> RegistryError:
    """Nothing listening (refused, unknown name) is final; a reset or a timeout may pass."""
    text = str(exc).lower()
    final = "refused" in text or "name or service not known" in text or "nodename nor servname" in text
    return RegistryError(f"cannot connect to {host}: {reason(exc)}", transient=not final)
