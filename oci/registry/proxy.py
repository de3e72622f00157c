"""Which proxy a request goes through: HTTPS_PROXY/HTTP_PROXY and NO_PROXY, matched as Go's
golang.org/x/net/http/httpproxy (and curl) match them.

NO_PROXY is a comma-separated list: `*` bypasses every host; an IP address or a CIDR
block matches addresses; `example.com` matches it and its subdomains, `.example.com`
its subdomains only; any entry may carry `:port` to match that port alone. Loopback
addresses and `localhost` never go through a proxy (as Go's httpproxy).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class ProxyConfig:
    https_proxy: str = ""
    http_proxy: str = ""
    no_proxy: str = ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ProxyConfig:
        """Upper case first, then lower case, as Go reads them (CGI's REQUEST_METHOD rule aside)."""
        def get(name: str) -> str:
            return environ.get(name.upper()) or environ.get(name.lower()) or ""
        return cls(get("https_proxy"), get("http_proxy"), get("no_proxy"))

    def proxy_for(self, url: str) -> str:
        """The proxy URL for url, or "" to connect directly."""
        parts = urlsplit(url)
        proxy = self.https_proxy if parts.scheme == "https" else self.http_proxy
        if not proxy or bypass(parts.hostname or "", parts.port or DEFAULT_PORTS.get(parts.scheme, 0),
                               self.no_proxy):
            return ""
        return proxy

    def requests_proxies(self, url: str) -> dict[str, str]:
        """The `proxies=` argument for one request (sessions here carry none of their own)."""
        proxy = self.proxy_for(url)
        return {"http": proxy, "https": proxy} if proxy else {}


def bypass(host: str, port: int, no_proxy: str) -> bool:
    host = host.lower().strip("[]").rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None and ip.is_loopback:
        return True
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if _matches(entry, host, ip, port):
            return True
    return False


def _matches(entry: str, host: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None, port: int) -> bool:
    try:
        network = ipaddress.ip_network(entry.strip("[]"), strict=False)
    except ValueError:
        network = None
    if network is not None:
        return ip is not None and ip in network
    name, entry_port = _split_port(entry)
    if entry_port is not None and entry_port != port:
        return False
    try:
        entry_ip = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        entry_ip = None
    if entry_ip is not None:
        return ip == entry_ip
    name = name.rstrip(".")
    if name.startswith("*."):
        name = name[1:]
    if name.startswith("."):
        return host.endswith(name)
    return host == name or host.endswith("." + name)


def _split_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isascii() and rest[1:].isdigit() else None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        if port.isascii() and port.isdigit():
            return host, int(port)
    return entry, None
