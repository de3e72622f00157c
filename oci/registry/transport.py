"""HTTP to one registry: scheme and TLS choice, timeouts, retries, auth, errors.

Retry policy (checklist 11-15): 429 waits for Retry-After; 408/500/502/503/504
and connection failures back off exponentially with jitter, up to
max_attempts; other 4xx fail at once with the registry's error code and message.
A request body comes from an opener, so every attempt re-sends from byte 0.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlencode, urlsplit

import requests
import urllib3

from ..errors import RegistryError
from .auth import Authorizer, Challenge
from .credentials import Credential
from .httputil import RETRY_STATUSES, is_loopback, oci_error, reason as _reason, redact, retry_after
from .tokens import fetch_token

__all__ = ["RETRY_STATUSES", "RegistryOptions", "Transport", "is_loopback", "redact", "retry_after"]
log = logging.getLogger(__name__)
USER_AGENT = "leango/0.1"


# Where Linux distributions keep the system trust bundle (the list Go's
# crypto/x509 root_linux.go searches).
SYSTEM_CA_FILES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
                   "/etc/ssl/ca-bundle.pem", "/etc/pki/tls/cacert.pem",
                   "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "/etc/ssl/cert.pem")


def system_ca_file() -> Path | None:
    return next((Path(p) for p in SYSTEM_CA_FILES if Path(p).is_file()), None)


@dataclass(frozen=True)
class RegistryOptions:
    insecure_hosts: tuple[str, ...] = ()  # plain http / unverified TLS allowed for these
    ca_file: Path | None = None  # trusted in addition to the system bundle
    system_ca: Path | None = field(default_factory=system_ca_file)  # None: certifi's bundle
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 60.0
    concurrency: int = 3
    chunk_size: int = 0  # 0: monolithic PUT; else PATCH in chunks of this size
    proxies: tuple[tuple[str, str], ...] = ()
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)


def trust_bundle(options: RegistryOptions) -> bool | str:
    """The `verify` value for requests: the system bundle, plus --registry-ca when given
    (like certs.d for podman: a private CA adds to the trust, it does not replace it)."""
    if options.ca_file is None:
        return str(options.system_ca) if options.system_ca else True
    try:
        extra = Path(options.ca_file).read_bytes()
        system = Path(options.system_ca).read_bytes() if options.system_ca else b""
    except OSError as exc:
        raise RegistryError(f"cannot read CA file: {exc}") from None
    if b"-----BEGIN CERTIFICATE-----" not in extra:
        raise RegistryError(f"{options.ca_file} contains no PEM certificate")
    fd, path = tempfile.mkstemp(prefix="leango-ca-", suffix=".pem")
    with os.fdopen(fd, "wb") as out:
        out.write(system + b"\n" + extra)
    atexit.register(lambda: Path(path).unlink(missing_ok=True))
    return path


class Transport:
    """Requests to one registry host; safe to share between threads."""

    def __init__(self, host: str, credential: Credential, options: RegistryOptions):
        self.host = host
        self.options = options
        self.session = requests.Session()
        self.session.trust_env = False  # no .netrc or env proxies behind our back
        self.session.proxies = dict(options.proxies)
        self.session.headers["User-Agent"] = USER_AGENT
        self.insecure = host in options.insecure_hosts or \
            (urlsplit(f"//{host}").hostname or "") in options.insecure_hosts
        if self.insecure:
            # The user asked for this host by name; one log line instead of a Python
            # warning on every request.
            warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
            log.warning("TLS verification is off for %s (--insecure-registry)", host)
        self.verify: bool | str = trust_bundle(options)
        self.base = ""
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        self._ping_lock = threading.Lock()
        self.auth = Authorizer(f"https://{host}", credential, self._fetch_token)

    # -- connection set-up -------------------------------------------------
    def ping(self) -> None:
        """Choose https/http and learn the auth challenge from GET /v2/ (once)."""
        if self.base:
            return
        with self._ping_lock:
            if self.base:
                return
            for attempt in range(1, self.options.max_attempts + 1):
                try:
                    base, verify, resp = self._probe()
                except requests.exceptions.Timeout as exc:
                    if attempt == self.options.max_attempts:
                        raise RegistryError(f"cannot reach {self.host}: {_reason(exc)}") from None
                    self._backoff(attempt, f"GET /v2/: {_reason(exc)}")
                    continue
                if resp.status_code in RETRY_STATUSES and attempt < self.options.max_attempts:
                    wait = retry_after(resp, self.options.max_retry_after) if resp.status_code == 429 else None
                    resp.close()
                    self._backoff(attempt, f"GET /v2/: HTTP {resp.status_code}", wait)
                    continue
                break
            resp.close()
            if resp.status_code == 401:
                self.auth.learn(resp.headers.get("WWW-Authenticate", ""))
            elif resp.status_code not in (200, 404):
                raise RegistryError(f"{self.host}/v2/ answered HTTP {resp.status_code}", status=resp.status_code)
            self.verify = verify
            self.auth.registry_url = base
            self.base = base

    def _probe(self) -> tuple[str, bool | str, requests.Response]:
        """https first; plain http only for loopback or --insecure-registry hosts whose
        port does not speak TLS at all (never after a certificate failure)."""
        may_fall_back = self.insecure or is_loopback(self.host)
        verify = False if self.insecure else self.verify
        try:
            return f"https://{self.host}", verify, self._send("GET", f"https://{self.host}/v2/", {}, None,
                                                              verify=verify)
        except requests.exceptions.SSLError as exc:
            if not may_fall_back or "certificate" in str(exc).lower():
                raise self._tls_error(exc) from None
        except requests.exceptions.ConnectionError as exc:
            if not may_fall_back:
                raise RegistryError(f"cannot connect to {self.host}: {_reason(exc)}") from None
        log.debug("%s does not speak TLS; using plain http (loopback or --insecure-registry)", self.host)
        try:
            return f"http://{self.host}", True, self._send("GET", f"http://{self.host}/v2/", {}, None)
        except requests.exceptions.ConnectionError as exc:
            raise RegistryError(f"cannot connect to {self.host}: {_reason(exc)}") from None

    def _tls_error(self, exc: Exception) -> RegistryError:
        return RegistryError(f"TLS verification failed for {self.host}: {_reason(exc)} "
                             "(pass --registry-ca FILE with the registry's CA, or --insecure-registry "
                             f"{self.host} to skip verification)")

    # -- requests ------------------------------------------------------------
    def url(self, path: str, **query: str) -> str:
        self.ping()  # the base URL (https or, for loopback/insecure, http) is known after it
        return f"{self.base}{path}" + (f"?{urlencode(query)}" if query else "")

    def _send(self, method, url, headers, body, *, verify=None) -> requests.Response:
        data = body() if callable(body) else body
        try:
            return self.session.request(
                method, url, headers=headers, data=data, stream=True, allow_redirects=False,
                timeout=(self.options.connect_timeout, self.options.read_timeout),
                verify=self.verify if verify is None else verify)
        finally:
            if data is not None and hasattr(data, "close"):
                data.close()

    def request(self, method: str, url: str, *, scopes: tuple[str, ...], expect: tuple[int, ...],
                headers: dict | None = None, body=None, retry: bool = True) -> requests.Response:
        """Send with auth and retries; return a response whose status is in expect, else raise.

        body is bytes or a zero-argument callable returning a fresh file-like object.
        """
        self.ping()
        same_host = urlsplit(url).netloc == urlsplit(self.base).netloc
        attempt, auth_retries, authz = 0, 0, None
        while True:
            attempt += 1
            hdrs = dict(headers or {})
            if same_host:
                authz = authz or self.auth.header(scopes)
                if authz:
                    hdrs["Authorization"] = authz
            try:
                resp = self._send(method, url, hdrs, body)
            except requests.exceptions.SSLError as exc:
                raise self._tls_error(exc) from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                if not retry or attempt >= self.options.max_attempts:
                    raise RegistryError(f"{method} {redact(url)} failed after {attempt} attempt(s): "
                                        f"{_reason(exc)}") from None
                self._backoff(attempt, f"{method} {redact(url)}: {_reason(exc)}")
                continue
            self._warnings(resp)
            if resp.status_code in expect:
                if method != "GET":
                    _ = resp.content  # small; reading it lets the connection be reused
                return resp
            if resp.status_code == 401 and same_host and auth_retries < 2:
                auth_retries += 1
                sent = hdrs.get("Authorization")
                authz = self.auth.on_unauthorized(resp.headers.get("WWW-Authenticate", ""), scopes, sent)
                resp.close()
                continue
            if retry and resp.status_code in RETRY_STATUSES and attempt < self.options.max_attempts:
                wait = retry_after(resp, self.options.max_retry_after) if resp.status_code == 429 else None
                resp.close()
                self._backoff(attempt, f"{method} {redact(url)}: HTTP {resp.status_code}", wait)
                continue
            raise self.error(method, url, resp, attempt)

    def error(self, method: str, url: str, resp: requests.Response, attempts: int = 1) -> RegistryError:
        code, message = oci_error(resp)
        resp.close()
        detail = f"{code}: {message}" if code else (message or resp.reason or "")
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        if resp.status_code == 401:
            detail = (detail + "; " if detail else "") + "authentication failed"
        return RegistryError(f"{method} {redact(url)} returned HTTP {resp.status_code}{tries}"
                             + (f" ({detail})" if detail else ""), status=resp.status_code, code=code,
                             retry_after=retry_after(resp, self.options.max_retry_after))

    def _backoff(self, attempt: int, why: str, wait: float | None = None) -> None:
        if wait is None:
            ceiling = min(self.options.backoff_max, self.options.backoff_base * 2 ** (attempt - 1))
            wait = ceiling / 2 + random.uniform(0, ceiling / 2)
        log.info("retrying in %.1fs (%s)", wait, why)
        self.options.sleep(wait)

    def _warnings(self, resp: requests.Response) -> None:
        # distribution spec: Warning: 299 - "text" headers are shown once each.
        for value in resp.raw.headers.getlist("Warning") if resp.raw is not None else []:
            if value.startswith("299 ") and value not in self._warned:
                with self._lock:
                    self._warned.add(value)
                log.warning("registry %s: %s", self.host, value[4:].strip().lstrip("-").strip().strip('"'))

    def _fetch_token(self, challenge: Challenge, scopes: tuple[str, ...], cred: Credential) -> str:
        return fetch_token(self.session, challenge, scopes, cred, verify=self.verify,
                           timeout=(self.options.connect_timeout, self.options.read_timeout))
