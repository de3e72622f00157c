"""Plain HTTP only for loopback registries or --insecure-registry hosts: the decision, and the
probe that acts on it (a scripted session stands in for hosts the tests cannot reach)."""

from __future__ import annotations

import io

import pytest
import requests

from leango.oci.errors import RegistryError
from leango.oci.registry.credentials import Credential
from leango.oci.registry.tls import is_insecure, plain_http_allowed
from leango.oci.registry.transport import RegistryOptions, Transport
from support.clock import instant_retry


@pytest.mark.parametrize("host,insecure,allowed", [
    ("localhost:5000", (), True), ("127.0.0.1:5000", (), True), ("[::1]:5000", (), True),
    ("127.8.9.10", (), True), ("app.localhost", (), True),
    ("registry.example", (), False), ("10.0.0.5:5000", (), False), ("localhost.evil.example", (), False),
    ("registry.example:5000", ("registry.example",), True),           # a host name covers its ports
    ("registry.example:5000", ("registry.example:5000",), True),
    ("registry.example:5001", ("registry.example:5000",), False),     # host:port covers that port only
    ("other.example", ("registry.example",), False),
])
def test_plain_http_decision(host, insecure, allowed):
    assert plain_http_allowed(host, insecure) is allowed
    assert is_insecure(host, insecure) is (bool(insecure) and allowed)


class _Scripted(requests.Session):
    """https raises the error given; http answers 200 (a registry that speaks no TLS)."""

    def __init__(self, https_error: Exception):
        super().__init__()
        self.https_error, self.urls = https_error, []

    def request(self, method, url, **kw):
        self.urls.append(url)
        if url.startswith("https://"):
            raise self.https_error
        resp = requests.Response()
        resp.status_code, resp.url, resp.raw = 200, url, io.BytesIO(b"")
        return resp


NO_TLS = requests.exceptions.SSLError("[SSL: WRONG_VERSION_NUMBER] wrong version number")
BAD_CERT = requests.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")


@pytest.mark.parametrize("host,insecure,error,falls_back", [
    ("registry.example", (), NO_TLS, False),
    ("registry.example", ("registry.example",), NO_TLS, True),
    ("localhost:5000", (), NO_TLS, True),
    ("localhost:5000", (), BAD_CERT, False),   # never http after a certificate failure
    ("registry.example", (), requests.exceptions.ConnectionError("Connection refused"), False),
])
def test_probe_falls_back_to_http_only_when_allowed(host, insecure, error, falls_back):
    session = _Scripted(error)
    t = Transport(host, Credential(), RegistryOptions(insecure_hosts=insecure, retry=instant_retry(2)),
                  session=session)
    if falls_back:
        t.ping()
        assert t.base == f"http://{host}"
    else:
        with pytest.raises(RegistryError):
            t.ping()
        assert not any(u.startswith("http://") for u in session.urls), "fell back to plain http"
