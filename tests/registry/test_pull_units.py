"""The puller against the in-process fake: the scope it asks for, the Accept it sends, the
media types it takes, and how redirects end (each error final, said exactly, never retried)."""

from __future__ import annotations

import io
import logging

import pytest

from leango.oci import Digest, mediatypes
from leango.oci.descriptor import Descriptor
from leango.oci.errors import RegistryError
from leango.oci.registry.credentials import Credential
from leango.oci.registry.pull import MAX_REDIRECTS, Puller
from leango.oci.registry.transport import RegistryOptions, Transport
from support.clock import instant_retry
from support.fakeregistry import FakeRegistry

REPO = "team/app"
DATA = b"blob bytes " * 100
ACCEPT = (mediatypes.OCI_MANIFEST, mediatypes.OCI_INDEX)


def _puller(f, cred=Credential("user", "pass")) -> Puller:
    return Puller(Transport(f.host, cred, RegistryOptions(retry=instant_retry(3))), REPO)


def _manifest(f, content_type: str, body: bytes = b'{"schemaVersion":2}', ref: str = "v1") -> bytes:
    f.manifests[(REPO, ref)] = (content_type, body)
    return body


def test_a_bearer_token_is_asked_for_pull_of_this_repository_only(fake):
    f = fake(auth="bearer", users={"user": "pass"})
    raw = _manifest(f, mediatypes.OCI_MANIFEST)
    f.blobs[REPO] = {str(Digest.of_bytes(DATA)): DATA}
    p = _puller(f)
    assert p.manifest("v1").raw == raw
    out = io.BytesIO()
    p.blob(Descriptor("application/octet-stream", Digest.of_bytes(DATA), len(DATA)), out)
    assert out.getvalue() == DATA
    scopes = {r.query.get("scope") for r in f.token_requests}
    assert scopes == {f"repository:{REPO}:pull"}


def test_the_accept_header_lists_every_type_asked_for(fake):
    f = fake()
    _manifest(f, mediatypes.OCI_INDEX)
    _puller(f).manifest("v1", accept=(mediatypes.OCI_INDEX, mediatypes.DOCKER_MANIFEST_LIST))
    assert f.find("GET", "/manifests/")[-1].headers["Accept"] == \
        f"{mediatypes.OCI_INDEX}, {mediatypes.DOCKER_MANIFEST_LIST}"


def test_a_content_type_with_parameters_is_its_media_type(fake):
    f = fake()
    _manifest(f, mediatypes.OCI_MANIFEST + "; charset=utf-8")
    assert _puller(f).manifest("v1").media_type == mediatypes.OCI_MANIFEST


@pytest.mark.parametrize("content_type,shown", [("", "untyped reply"), ("text/html", "text/html")])
def test_an_unasked_media_type_is_refused_once_and_said_exactly(fake, content_type, shown):
    f = fake()
    _manifest(f, content_type)
    with pytest.raises(RegistryError) as info:
        _puller(f).manifest("v1")
    assert str(info.value) == f"{REPO}:v1 on {f.host} is a {shown}, not one of {', '.join(ACCEPT)}"
    assert info.value.transient is False and len(f.find("GET", "/manifests/")) == 1


def test_a_manifest_by_digest_of_other_content_is_refused_once(fake):
    f = fake()
    asked = Digest.of_bytes(b"what was asked")
    body = _manifest(f, mediatypes.OCI_MANIFEST, ref=str(asked))
    with pytest.raises(RegistryError) as info:
        _puller(f).manifest(str(asked))
    assert str(info.value) == (f"manifest {REPO}@{asked} from {f.host} has digest {Digest.of_bytes(body)}: "
                               "the registry sent other content than was asked for")
    assert info.value.transient is False and len(f.find("GET", "/manifests/")) == 1


class _Redirecting(FakeRegistry):
    """Blob GETs answer 307 with `self.location` (formatted with host) — or with no Location."""
    location: str | None = None

    def _blob(self, h, call, repo, rest, body):
        if call.method == "GET" and rest.startswith("sha256:") and self.location is not None and repo == REPO:
            headers = [("Location", self.location.format(host=self.host, repo=repo, digest=rest))] \
                if self.location else []
            return self._send(h, 307, headers=headers)
        return super()._blob(h, call, repo, rest, body)


def _desc() -> Descriptor:
    return Descriptor("application/octet-stream", Digest.of_bytes(DATA), len(DATA))


def test_a_redirect_without_location_is_final(fake):
    f = fake(cls=_Redirecting)
    f.location = ""
    with pytest.raises(RegistryError) as info:
        _puller(f, Credential()).blob(_desc(), io.BytesIO())
    assert str(info.value) == f"GET http://{f.host}/v2/{REPO}/blobs/{_desc().digest} redirected without a Location"


def test_redirects_end_after_a_bound_and_are_not_retried(fake):
    f = fake(cls=_Redirecting)
    f.location = "/v2/{repo}/blobs/{digest}"  # relative: resolved against the URL that answered
    with pytest.raises(RegistryError) as info:
        _puller(f, Credential()).blob(_desc(), io.BytesIO())
    assert str(info.value) == f"GET blob {_desc().digest}: more than {MAX_REDIRECTS} redirects"
    assert info.value.transient is False
    assert len(f.find("GET", "/blobs/")) == MAX_REDIRECTS + 1  # the first GET and each redirect, once


def test_redirects_to_storage_absolute_or_relative_are_followed(fake):
    store = fake()
    store.blobs["elsewhere/x"] = {str(Digest.of_bytes(DATA)): DATA}
    f = fake(cls=_Redirecting)
    f.location = f"http://{store.host}/v2/elsewhere/x/blobs/{{digest}}"
    out = io.BytesIO()
    _puller(f, Credential()).blob(_desc(), out)
    assert out.getvalue() == DATA
    g = fake(cls=_Redirecting)
    g.location = "../../moved/blobs/{digest}"  # relative to /v2/team/app/blobs/DIGEST
    g.blobs["team/moved"] = {str(Digest.of_bytes(DATA)): DATA}
    out = io.BytesIO()
    _puller(g, Credential()).blob(_desc(), out)
    assert out.getvalue() == DATA and g.find("GET", f"^/v2/team/moved/blobs/{_desc().digest}$")


def test_a_short_blob_is_retried_and_the_retry_names_it(fake, caplog):
    f = fake()
    f.blobs[REPO] = {str(Digest.of_bytes(DATA)): DATA[:-1]}
    with caplog.at_level(logging.INFO), pytest.raises(RegistryError):
        _puller(f, Credential()).blob(_desc(), io.BytesIO())
    assert len(f.find("GET", "/blobs/")) == 3  # every attempt of the policy
    assert f"GET blob {_desc().digest}" in caplog.text


class _Body:
    """A response whose body arrives in the pieces given; an exception among them is raised there."""

    def __init__(self, *pieces):
        self.raw = self
        self._pieces = list(pieces)

    def read1(self, n, decode_content=False):
        piece = self._pieces.pop(0) if self._pieces else b""
        if isinstance(piece, Exception):
            raise piece
        return piece


def test_a_blob_body_is_verified_as_it_streams_and_each_failure_said():
    from leango.oci.registry.pull import _copy_verified
    good = Descriptor(mediatypes.OCI_LAYER_GZIP, Digest.of_bytes(DATA), len(DATA))
    out = io.BytesIO()
    _copy_verified(_Body(DATA[:100], DATA[100:]), good, out, 60)
    assert out.getvalue() == DATA
    failures = [
        (_Body(DATA, b"x"), good, f"blob {good.digest} is longer than its {len(DATA)} bytes", False),
        (_Body(DATA[:10], OSError("connection reset")), good,
         f"reading blob {good.digest} failed: connection reset", True),  # cut mid-body: worth another try
        (_Body(DATA[:10]), good, f"blob {good.digest} ended after 10 of {len(DATA)} bytes", True),
        (_Body(DATA[:-1] + b"?"), good, f"blob {good.digest} from the registry has digest {Digest.of_bytes(DATA[:-1] + b'?')}",
         False),
        (_Body(DATA), Descriptor(mediatypes.OCI_LAYER_GZIP, Digest.parse("sha512:" + "a" * 128), len(DATA)),
         "cannot verify a sha512 blob", False),
    ]
    for body, descriptor, said, transient in failures:
        with pytest.raises(RegistryError) as info:
            _copy_verified(body, descriptor, io.BytesIO(), 60)
        assert (str(info.value), info.value.transient is not False) == (said, transient)


def test_a_blob_may_take_the_response_deadline_plus_its_size_at_the_minimum_rate():
    from leango.oci.registry.pull import MIN_RATE, blob_deadline
    assert blob_deadline(0, 30.0) == 30.0
    assert blob_deadline(10 * MIN_RATE, 30.0) == 40.0
