"""NO_PROXY and the proxy variables, matched as Go's httpproxy and curl match them."""

from __future__ import annotations

import pytest

from leango.oci.errors import RegistryError
from leango.oci.registry.proxy import ProxyConfig, bypass

P = "http://proxy.corp:3128"


@pytest.mark.parametrize("environ,url,expected", [
    ({"HTTPS_PROXY": P}, "https://r.io/v2/", P),
    ({"https_proxy": P}, "https://r.io/v2/", P),                      # lower case is read too
    ({"HTTPS_PROXY": P, "https_proxy": "http://other:1"}, "https://r.io/v2/", P),  # upper case first
    ({"HTTP_PROXY": P}, "https://r.io/v2/", ""),                      # scheme-specific
    ({"http_proxy": P}, "http://r.io/v2/", P),
    ({"HTTPS_PROXY": P, "NO_PROXY": "r.io"}, "https://r.io/v2/", ""),
    ({"HTTPS_PROXY": P, "no_proxy": "r.io"}, "https://r.io/v2/", ""),
    ({"HTTPS_PROXY": P, "NO_PROXY": "localhost"}, "https://registry.example/v2/", P),
])
def test_proxy_for_reads_either_case(environ, url, expected):
    assert ProxyConfig.from_environ(environ).proxy_for(url) == expected


@pytest.mark.parametrize("host,port,no_proxy,expected", [
    ("r.io", 443, "*", True),
    ("r.io", 443, "r.io", True),
    ("a.r.io", 443, "r.io", True),                 # a domain covers its subdomains
    ("xr.io", 443, "r.io", False),                 # …but not a longer name
    ("r.io", 443, ".r.io", False),                 # a leading dot: subdomains only
    ("a.r.io", 443, ".r.io", True),
    ("a.r.io", 443, "*.r.io", True),
    ("r.io", 443, "r.io:5000", False),             # a port limits the entry
    ("r.io", 5000, "r.io:5000", True),
    ("10.1.2.3", 443, "10.0.0.0/8", True),        # CIDR
    ("11.1.2.3", 443, "10.0.0.0/8", False),
    ("10.1.2.3", 443, "10.1.2.3", True),          # IP
    ("2001:db8::1", 443, "2001:db8::/32", True),
    ("2001:db8::1", 443, "[2001:db8::1]", True),
    ("r.io", 443, " other.io , r.io ", True),     # spaces and lists
    ("R.IO", 443, "r.io", True),                   # case-insensitive
    ("r.io", 443, "", False),
    ("localhost", 5000, "", True),                 # loopback never uses a proxy (as Go)
    ("127.0.0.1", 5000, "", True),
    ("::1", 5000, "", True),
])
def test_no_proxy_matching(host, port, no_proxy, expected):
    assert bypass(host, port, no_proxy) is expected


def test_every_request_gets_its_own_proxy_decision(monkeypatch):
    """The transport hands requests the decision for each URL (registry, token realm, Location)."""
    import requests

    from leango.oci.registry.credentials import Credential
    from leango.oci.registry.transport import RegistryOptions, Transport

    seen = []

    class Recording(requests.Session):
        def request(self, method, url, **kw):
            seen.append((url, kw.get("proxies")))
            raise requests.exceptions.ConnectionError("Connection refused")

    cfg = ProxyConfig(https_proxy=P, no_proxy="direct.example")
    for host in ("via-proxy.example", "direct.example"):
        t = Transport(host, Credential(), RegistryOptions(proxy=cfg), session=Recording())
        with pytest.raises(RegistryError):
            t.ping()
    assert seen[0] == ("https://via-proxy.example/v2/", {"http": P, "https": P})
    assert seen[-1] == ("https://direct.example/v2/", {})
