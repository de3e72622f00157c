"""Where credentials may follow a registry: token realms, upload Locations, blob redirects and
Link pages (never to a metadata, link-local or otherwise unexpected address, never downgraded
to http).

A realm or Location on another host may not downgrade https to http, and may not point
at an address the registry itself is not at: never a cloud metadata service or a
link-local or unspecified address, and a loopback or private address only when the
registry is one too (a public registry sending tokens to 10.x is an SSRF). Host names
are resolved and every address checked; numeric host forms other than the canonical
ones (`127.1`, `2130706433`, `0x7f.0.0.1`), which C resolvers accept, are refused.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
from urllib.parse import urlsplit

from ..errors import RegistryError

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "metadata", "metadata.azure.com",
                            "instance-data", "instance-data.ec2.internal", "metadata.tencentyun.com"})
METADATA_IPS = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "169.254.170.23", "fd00:ec2::254", "100.100.100.200", "192.0.0.192"))
# What inet_aton accepts: one to four parts, each decimal, octal (0…) or hex (0x…).
_NUMERIC = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}")


def address_class(ip: IP) -> str:
    if ip in METADATA_IPS:
        return "metadata"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10")):
        return "private"
    return "public"


@functools.lru_cache(maxsize=128)
def resolve(host: str) -> tuple[IP, ...]:
    """The addresses host stands for; refuses non-canonical numeric forms."""
    name = host.strip("[]").rstrip(".").lower()
    try:
        return (ipaddress.ip_address(name),)
    except ValueError:
        pass
    if _NUMERIC.fullmatch(name):
        raise RegistryError(f"refusing host {host!r}: a numeric address in a non-canonical form",
                            transient=False)
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return ()  # the connection will fail on its own, with its own message
    return tuple(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))


def check_redirect_target(registry_url: str, target: str, what: str, *, allow_http: bool = False) -> None:
    """Raise RegistryError unless credentials may go to target on behalf of the registry.
    allow_http: the registry itself is --insecure-registry, so an http target is no downgrade."""
    try:
        reg, tgt = urlsplit(registry_url), urlsplit(target)
        reg_host, tgt_host = (reg.hostname or ""), (tgt.hostname or "")
    except ValueError as exc:
        raise RegistryError(f"refusing {what} {target[:200]!r}: {exc}", transient=False) from exc
    if tgt.scheme not in ("http", "https") or not tgt_host:
        raise RegistryError(f"refusing {what} {target[:200]!r}: not an http(s) URL", transient=False)
    if reg.scheme == "https" and tgt.scheme == "http" and not allow_http:
        raise RegistryError(f"refusing {what} on plain http for an https registry ({tgt_host})",
                            transient=False)
    if tgt_host == reg_host:
        return
    if tgt_host.rstrip(".") in METADATA_HOSTS:
        raise RegistryError(f"refusing {what} at cloud metadata host {tgt_host} for registry {reg_host}",
                            transient=False)
    registry_classes = {address_class(ip) for ip in resolve(reg_host)}
    for ip in resolve(tgt_host):
        kind = address_class(ip)
        if kind in ("metadata", "link-local", "unspecified") or (
                kind in ("loopback", "private") and kind not in registry_classes):
            raise RegistryError(f"refusing {what} at {kind} address {ip} ({tgt_host}) for registry {reg_host}",
                                transient=False)
