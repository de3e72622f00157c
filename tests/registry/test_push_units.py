"""The pusher against the in-process fake: what its report counts, what it PUTs and under which
names, and what the registry's answer to a referrer tells it."""

from __future__ import annotations

import pytest

from leango.oci import Index, Platform, mediatypes
from leango.oci.blob import Blob
from leango.oci.descriptor import Descriptor
from leango.oci.digest import Digest
from leango.oci.manifest import Manifest
from leango.oci.registry.credentials import Credential
from leango.oci.registry.push import Pusher, PushReport
from leango.oci.registry.transport import RegistryOptions, Transport
from leango.oci.registry.upload import BlobOutcome
from support.clock import instant_retry
from support.fakeregistry import Behaviour, FakeRegistry

REPO = "team/app"


@pytest.fixture
def fake():
    f = FakeRegistry(Behaviour())
    yield f
    f.close()


def _pusher(f, **kw) -> Pusher:
    return Pusher(Transport(f.host, Credential(), RegistryOptions(retry=instant_retry(2))), REPO, **kw)


def _artifact(text: str, subject: Descriptor | None = None) -> Manifest:
    data = text.encode()
    layer = Blob(Descriptor("application/vnd.test", Digest.of_bytes(data), len(data)), data=data)
    return Manifest("application/vnd.test.artifact", (layer,), subject=subject)


def test_the_report_counts_each_action():
    report = PushReport("sha256:x", ["v1"], [BlobOutcome("a", 1, "uploaded"), BlobOutcome("b", 2, "exists"),
                                            BlobOutcome("c", 4, "uploaded"), BlobOutcome("d", 8, "mounted")])
    assert (report.count("uploaded"), report.count("exists"), report.count("mounted")) == (2, 1, 1)
    assert report.count("other") == 0 and report.bytes_uploaded == 5


def test_a_push_reports_its_digest_tags_and_blobs_and_tags_each_name(fake):
    art = _artifact("one")
    seen = []
    report = _pusher(fake, progress=lambda *a: seen.append(a)).push(art, ("v1", "latest"))
    assert report.digest == str(art.digest) and report.tags == ["v1", "latest"]
    assert sorted((b.digest, b.action) for b in report.blobs) == sorted(
        (str(b.digest), "uploaded") for b in art.blobs())
    assert fake.manifests[(REPO, "v1")][1] == art.raw and fake.manifests[(REPO, "latest")][1] == art.raw
    assert fake.manifests[(REPO, "v1")][0] == mediatypes.OCI_MANIFEST
    assert seen and all(s[0] in {str(b.digest) for b in art.blobs()} for s in seen)  # progress reached
    again = _pusher(fake).push(art, ("v2",))
    assert {b.action for b in again.blobs} == {"exists"} and again.tags == ["v2"]


def test_untagged_pushes_name_the_manifest_by_digest_and_children_go_first(fake, make_image):
    index = Index((make_image(), make_image(platform=Platform("linux", "arm64"))))
    report = _pusher(fake).push(index, ())
    assert report.tags == []
    names = [c.path.rsplit("/", 1)[1] for c in fake.find("PUT", "/manifests/")]
    assert names == [*(str(i.digest) for i in index.images()), str(index.digest)]


def test_mount_from_skips_the_repository_itself():
    t = Transport("127.0.0.1:1", Credential(), RegistryOptions())
    assert Pusher(t, REPO, mount_from=(REPO, "team/base")).mount_from == ("team/base",)


def test_a_referrer_said_indexed_by_the_registry_stays_so(fake, monkeypatch):
    pusher = _pusher(fake)
    answers = iter([True, False])
    monkeypatch.setattr(pusher, "put_manifest", lambda blob, ref: next(answers))
    pusher.push(_artifact("sbom"), ("a", "b"))  # the first PUT said OCI-Subject, the second did not
    assert pusher.indexed_by_registry is True
    other = _pusher(fake)
    monkeypatch.setattr(other, "put_manifest", lambda blob, ref: False)
    other.push(_artifact("sbom"), ("a",))
    assert other.indexed_by_registry is False
