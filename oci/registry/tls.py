"""The scheme/TLS layer: trust built in memory, insecurity confined to the hosts named.

Trust is the system bundle (or the one the caller names, e.g. from SSL_CERT_FILE),
plus --registry-ca added to it — as podman's certs.d adds a registry CA rather
than replacing the trust. The SSL context is built in memory: no temporary CA
file. --insecure-registry turns verification off for that host's URLs only (an
adapter mounted on its https:// prefix); a token realm or upload Location on
another host keeps full verification.
"""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import certifi
import requests
from requests.adapters import HTTPAdapter

from ..errors import RegistryError
from ..trust import PEM_MARKER, system_ca_file
from .deadline import POOL_CLASSES


def verifying_context(system_ca: Path | None = None, extra_ca: Path | None = None) -> ssl.SSLContext:
    """Trust system_ca (default: the system bundle, else certifi's) plus extra_ca."""
    base = system_ca or system_ca_file() or Path(certifi.where())
    try:
        context = ssl.create_default_context(cafile=str(base))
        if extra_ca is not None:
            data = Path(extra_ca).read_bytes()
            if PEM_MARKER not in data:
                raise RegistryError(f"{extra_ca} contains no PEM certificate")
            context.load_verify_locations(cadata=data.decode("ascii", "replace"))
    except (OSError, ssl.SSLError) as exc:
        raise RegistryError(f"cannot load CA certificates: {exc}") from exc
    return context


def unverified_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


SEND_BLOCK = 1 << 20


class TLSAdapter(HTTPAdapter):
    """An adapter whose trust is its SSL context alone, whatever `verify` a caller passes."""

    def __init__(self, context: ssl.SSLContext, *, verify: bool = True, **kwargs: Any):
        self._context, self._verify = context, verify
        super().__init__(**kwargs)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **kw: Any) -> None:
        # Request bodies are read and sent SEND_BLOCK bytes at a time (http.client's default,
        # 8 KiB, costs a read and a send call per 8 KiB of a layer).
        super().init_poolmanager(connections, maxsize, block, ssl_context=self._context, blocksize=SEND_BLOCK,
                                 **kw)
        # Connections whose wait for a response is bounded by deadline.RESPONSE_DEADLINE.
        self.poolmanager.pool_classes_by_scheme = dict(POOL_CLASSES)

    def proxy_manager_for(self, proxy: str, **kw: Any) -> Any:
        manager = super().proxy_manager_for(proxy, ssl_context=self._context, blocksize=SEND_BLOCK, **kw)
        if not proxy.lower().startswith("socks"):
            # Through an HTTP proxy too (plain or CONNECT tunnel), the wait for a response is
            # bounded by the deadline.
            manager.pool_classes_by_scheme = dict(POOL_CLASSES)
        return manager

    def cert_verify(self, conn: Any, url: str, verify: bool | str, cert: Any) -> None:
        super().cert_verify(conn, url, self._verify, cert)
        # requests would load certifi's bundle into our context: the context already holds the trust.
        conn.ca_certs = conn.ca_cert_dir = None

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs["verify"] = self._verify
        return super().send(request, **kwargs)


def host_of(host: str) -> str:
    """'name[:port]' or '[v6][:port]' → the bare host name or address."""
    return urlsplit(f"//{host}").hostname or ""


def is_loopback(host: str) -> bool:
    """True for localhost names and loopback addresses, with or without a port."""
    name = host_of(host)
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_insecure(host: str, insecure_hosts: tuple[str, ...]) -> bool:
    """--insecure-registry HOST matches HOST with any port; HOST:PORT only that port."""
    return host in insecure_hosts or host_of(host) in insecure_hosts


def plain_http_allowed(host: str, insecure_hosts: tuple[str, ...]) -> bool:
    """Plain HTTP is for loopback registries and those the user named; never for others."""
    return is_loopback(host) or is_insecure(host, insecure_hosts)


def make_session(host: str, *, context: ssl.SSLContext, insecure: bool) -> requests.Session:
    """Proxies are chosen per request (proxy.ProxyConfig), never from the environment behind the
    caller's back; nor is a .netrc read."""
    session = requests.Session()
    session.trust_env = False
    session.mount("https://", TLSAdapter(context))
    session.mount("http://", TLSAdapter(context))  # the context is unused for http; the deadline is not
    if insecure:
        session.mount(f"https://{host}/", TLSAdapter(unverified_context(), verify=False))
    return session
