"""Pulling: manifests by tag and digest, blobs verified while they stream, redirects to storage."""

from __future__ import annotations

import hashlib
import io

import pytest

from leango.oci import Digest, mediatypes
from leango.oci.blob import Blob
from leango.oci.descriptor import Descriptor
from leango.oci.errors import RegistryError
from leango.oci.manifest import Manifest
from leango.oci.registry.credentials import Credential
from leango.oci.registry.pull import Puller
from leango.oci.registry.transport import RegistryOptions, Transport
from support.clock import instant_retry
from support.fakeregistry import Behaviour, FakeRegistry
from support.faultproxy import Fault

FILE = b"cache chunk bytes " * 1000


def artifact(data: bytes = FILE) -> Manifest:
    blob = Blob(Descriptor("application/vnd.test.file", Digest.of_bytes(data), len(data),
                           (("org.opencontainers.image.title", "f.bin"),)), data=data)
    return Manifest("application/vnd.test.artifact", (blob,))


def puller(host: str, repo: str, cred=Credential(), **opts) -> Puller:
    options = RegistryOptions(**({"retry": instant_retry(4)} | opts))
    return Puller(Transport(host, cred, options), repo)


def test_manifest_by_tag_and_by_digest_and_blob(registry, do_push):
    art = artifact()
    do_push(art, [f"{registry.host}/pull/one:v1"])
    p = puller(registry.host, "pull/one")
    by_tag = p.manifest("v1")
    assert by_tag.raw == art.raw and by_tag.digest == art.digest and by_tag.media_type == mediatypes.OCI_MANIFEST
    assert p.manifest(str(art.digest)).raw == art.raw
    out = io.BytesIO()
    p.blob(art.layers[0].descriptor, out)
    assert out.getvalue() == FILE


def test_missing_manifest_is_a_404(registry):
    with pytest.raises(RegistryError) as err:
        puller(registry.host, "pull/none").manifest("v1")
    assert err.value.status == 404


def test_blob_of_other_content_is_refused_at_once(registry, do_push, proxy):
    art = artifact()
    do_push(art, [f"{registry.host}/pull/bad:v1"])
    desc = art.layers[0].descriptor
    wrong = bytes(reversed(FILE))  # same length, other bytes
    proxy.add(Fault("GET", "/blobs/sha256:", "status", status=200, body=wrong, times=-1))
    with pytest.raises(RegistryError, match=f"blob {desc.digest} from the registry has digest "
                                            f"sha256:{hashlib.sha256(wrong).hexdigest()}") as err:
        puller(proxy.host, "pull/bad").blob(desc, io.BytesIO())
    assert err.value.attempts == 1, "a wrong digest is final, not retried"


def test_longer_blob_is_refused(registry, do_push, proxy):
    art = artifact()
    do_push(art, [f"{registry.host}/pull/long:v1"])
    proxy.add(Fault("GET", "/blobs/sha256:", "status", status=200, body=FILE + b"x", times=-1))
    with pytest.raises(RegistryError, match=f"is longer than its {len(FILE)} bytes"):
        puller(proxy.host, "pull/long").blob(art.layers[0].descriptor, io.BytesIO())


def test_short_blob_is_retried_from_the_start(registry, do_push, proxy):
    art = artifact()
    do_push(art, [f"{registry.host}/pull/short:v1"])
    proxy.add(Fault("GET", "/blobs/sha256:", "status", status=200, body=FILE[:100], times=1))
    out = io.BytesIO()
    puller(proxy.host, "pull/short").blob(art.layers[0].descriptor, out)
    assert out.getvalue() == FILE  # the second attempt wrote from byte 0, nothing doubled
    assert len(proxy.requests("GET", "/blobs/sha256:")) == 2


def test_manifest_by_digest_with_other_content_is_refused(registry, do_push, proxy):
    art = artifact()
    do_push(art, [f"{registry.host}/pull/md:v1"])
    other = artifact(b"other").raw
    proxy.add(Fault("GET", "/manifests/", "status", status=200, body=other,
                    headers={"Content-Type": mediatypes.OCI_MANIFEST}, times=-1))
    with pytest.raises(RegistryError, match="the registry sent other content than was asked for"):
        puller(proxy.host, "pull/md").manifest(str(art.digest))


def test_manifest_of_an_unasked_type_is_refused(registry, do_push, proxy):
    do_push(artifact(), [f"{registry.host}/pull/mt:v1"])
    proxy.add(Fault("GET", "/manifests/", "status", status=200, body=b"{}",
                    headers={"Content-Type": "text/html"}, times=-1))
    with pytest.raises(RegistryError, match="is a text/html, not one of"):
        puller(proxy.host, "pull/mt").manifest("v1")


def test_blob_redirect_to_storage_gets_no_authorization():
    storage = FakeRegistry(Behaviour(), hostname="localhost")  # another host name, no auth
    main = FakeRegistry(Behaviour(auth="basic", blob_redirect=True), blob_store=storage)
    try:
        storage.blobs = main.blobs
        main.blobs["team/app"] = {str(Digest.of_bytes(FILE)): FILE}
        out = io.BytesIO()
        desc = Descriptor("application/octet-stream", Digest.of_bytes(FILE), len(FILE))
        puller(main.host, "team/app", Credential(username="user", password="pass")).blob(desc, out)
        assert out.getvalue() == FILE
        assert storage.find("GET", "/blobs/"), "the blob did not come from storage"
        assert all("Authorization" not in c.headers for c in storage.calls)
        assert any("Authorization" in c.headers for c in main.find("GET", "/blobs/"))
    finally:
        main.close()
        storage.close()


class _RedirectTo(FakeRegistry):
    """A registry whose blob GETs redirect to a fixed URL."""

    def __init__(self, location: str, **kw):
        super().__init__(Behaviour(auth="basic", blob_redirect=True), **kw)
        self.blob_store = self
        self.location = location

    def _send(self, h, status, body=b"", headers=()):
        if status == 307:
            headers = [("Location", self.location.format(host=self.host))]
        return super()._send(h, status, body, headers)


def _tls_context(registry_ca):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(registry_ca.server_cert, registry_ca.server_key)
    return ctx


@pytest.mark.parametrize("location,message", [
    # Same host and port, another scheme: a common reverse-proxy misconfiguration.
    ("http://{host}/v2/team/app/blobs/x", "on plain http for an https registry"),
    ("https://169.254.169.254/latest/meta-data/", "metadata address 169.254.169.254"),
])
def test_a_blob_redirect_never_carries_credentials_where_they_must_not_go(registry_ca, location, message):
    main = _RedirectTo(location, tls=_tls_context(registry_ca))
    try:
        main.blobs["team/app"] = {str(Digest.of_bytes(FILE)): FILE}
        desc = Descriptor("application/octet-stream", Digest.of_bytes(FILE), len(FILE))
        p = puller(main.host, "team/app", Credential(username="user", password="pass"), ca_file=registry_ca.ca_cert)
        with pytest.raises(RegistryError, match=message):
            p.blob(desc, io.BytesIO())
        assert len(main.find("GET", "/blobs/")) == 1  # the redirect, over TLS; nothing after it
    finally:
        main.close()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_an_insecure_registry_may_send_its_blobs_over_http(registry_ca):
    """--insecure-registry: http is no downgrade for it (the request still goes, without credentials)."""
    main = _RedirectTo("http://{host}/v2/team/app/blobs/x", tls=_tls_context(registry_ca))
    try:
        main.blobs["team/app"] = {str(Digest.of_bytes(FILE)): FILE}
        desc = Descriptor("application/octet-stream", Digest.of_bytes(FILE), len(FILE))
        p = puller(main.host, "team/app", Credential(username="user", password="pass"),
                   insecure_hosts=(main.host,))
        with pytest.raises(RegistryError) as err:
            p.blob(desc, io.BytesIO())
        assert "plain http" not in str(err.value)  # followed (and failed: this server speaks only TLS)
    finally:
        main.close()


def test_registry_errors_say_what_they_are_without_status_numbers(registry, do_push):
    """Typed predicates over status and distribution-spec code: a missing tag is not_found (and
    neither unauthorized nor denied); codes alone tell too."""
    from leango.oci.errors import DENIED, MANIFEST_UNKNOWN, UNAUTHORIZED, ErrorEntry
    do_push(artifact(), [f"{registry.host}/pull/typed:v1"])
    with pytest.raises(RegistryError) as err:
        puller(registry.host, "pull/typed").manifest("nope")
    assert err.value.not_found and not err.value.unauthorized and not err.value.denied
    assert puller(registry.host, "pull/typed").manifest("v1").raw  # the tag that is there is found
    by_code = {c: RegistryError("x", errors=(ErrorEntry(c),)) for c in (MANIFEST_UNKNOWN, UNAUTHORIZED, DENIED)}
    assert [e.not_found for e in by_code.values()] == [True, False, False]
    assert [e.unauthorized for e in by_code.values()] == [False, True, False]
    assert [e.denied for e in by_code.values()] == [False, False, True]
    assert RegistryError("x", status=403).denied and RegistryError("x", status=401).unauthorized
