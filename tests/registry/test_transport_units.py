"""The transport's errors, exactly: HTTP errors with the registry's own words, authentication
failures, Retry-After, connection failures that are final and those that may pass, cancellation."""

from __future__ import annotations

import io

import pytest
import requests

from leango.oci.errors import RegistryError
from leango.oci.registry import transport
from leango.oci.registry.credentials import Credential
from leango.oci.registry.httputil import reason
from leango.oci.registry.transport import Cancelled, RegistryOptions, Transport
from support.clock import instant_retry


def _t(f, cred=Credential()) -> Transport:
    return Transport(f.host, cred, RegistryOptions(retry=instant_retry(2)))


def test_an_http_error_carries_the_registrys_words(fake):
    f = fake()
    t = _t(f)
    url = t.url("/v2/team/app/manifests/v9")
    with pytest.raises(RegistryError) as info:
        t.request("GET", url, scopes=(), expect=(200,))
    assert str(info.value) == f"GET {url} returned HTTP 404 (MANIFEST_UNKNOWN: manifest_unknown)"
    assert info.value.status == 404 and [e.code for e in info.value.errors] == ["MANIFEST_UNKNOWN"]


def test_a_refused_login_is_said_without_the_credentials(fake):
    f = fake(auth="basic")
    t = _t(f, Credential("user", "wrong-secret"))
    url = t.url("/v2/team/app/manifests/v1")
    with pytest.raises(RegistryError) as info:
        t.request("GET", url, scopes=("repository:team/app:pull",), expect=(200,))
    assert str(info.value) == "authentication failed: the registry rejected the credentials"
    assert not info.value.transient


class _Response:
    """A finished response as error() reads it: its body (if any) from raw, as urllib3 gives it."""

    def __init__(self, status, reason="", headers=None, body=b""):
        self.status_code, self.reason, self.url = status, reason, "http://r/x"
        self.raw = _Raw(body) if body else None
        self.headers = requests.structures.CaseInsensitiveDict(headers or {})

    def close(self):
        pass


class _Raw(io.BytesIO):
    def read1(self, n=-1, decode_content=False):
        return super().read1(n)


def test_an_error_without_a_body_says_the_reason_or_nothing(fake):
    t = _t(fake())
    assert str(t.error("PUT", "http://r/x", _Response(500, "Internal Server Error"))) == \
        "PUT http://r/x returned HTTP 500 (Internal Server Error)"
    assert str(t.error("PUT", "http://r/x", _Response(502))) == "PUT http://r/x returned HTTP 502"
    assert str(t.error("GET", "http://r/x", _Response(401))) == \
        "GET http://r/x returned HTTP 401 (authentication failed)"


def test_every_error_the_registry_lists_is_said(fake):
    t = _t(fake())
    body = b'{"errors": [{"code": "DENIED", "message": "no"}, {"code": "UNAUTHORIZED", "message": "who"}]}'
    assert str(t.error("PUT", "http://r/x", _Response(403, "Forbidden", body=body))) == \
        "PUT http://r/x returned HTTP 403 (DENIED: no; UNAUTHORIZED: who)"
    assert str(t.error("GET", "http://r/x", _Response(401, "Unauthorized", body=body))) == \
        "GET http://r/x returned HTTP 401 (DENIED: no; UNAUTHORIZED: who; authentication failed)"


def test_retry_after_reaches_the_error(fake):
    t = _t(fake())
    err = t.error("GET", "http://r/x", _Response(429, "Too Many Requests", {"Retry-After": "7"}))
    assert err.retry_after == 7 and err.status == 429


@pytest.mark.parametrize("text,final", [
    ("Connection refused", True), ("[Errno -2] Name or service not known", True),
    ("nodename nor servname provided, or not known", True),
    ("Connection reset by peer", False), ("Read timed out", False),
])
def test_nothing_listening_is_final_a_reset_may_pass(text, final):
    exc = requests.exceptions.ConnectionError(text)
    err = transport._connect_error("reg.example", exc)
    assert err.transient is not final
    assert str(err) == f"cannot connect to reg.example: {reason(exc)}"  # the reason of this failure


def test_a_closed_port_fails_at_once(fake):
    f = fake()
    host = f.host
    f.close()
    t = Transport(host, Credential(), RegistryOptions(retry=instant_retry(5)))
    with pytest.raises(RegistryError) as info:
        t.request("GET", f"http://{host}/v2/", scopes=(), expect=(200,))
    assert info.value.transient is False and "cannot connect to" in str(info.value)
    assert t.retry.sleep == []  # not retried


def test_cancelled_is_final_and_keeps_its_message():
    err = Cancelled("upload cancelled")
    assert str(err) == "upload cancelled" and err.transient is False


def test_an_untrusted_certificate_is_final_and_says_both_ways_out(secure_registry):
    host = secure_registry.host
    t = Transport(host, Credential(), RegistryOptions(retry=instant_retry(5)))
    with pytest.raises(RegistryError) as info:
        t.ping()
    text = str(info.value)
    assert text.startswith(f"TLS verification failed for {host}: ")
    assert text.endswith(f" (pass --registry-ca FILE with the registry's CA, or --insecure-registry {host} "
                         "to skip verification)")
    assert "certificate" in text.lower() and info.value.transient is False and t.retry.sleep == []
