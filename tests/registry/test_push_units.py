"""The pusher against the in-process fake: what its report counts, what it PUTs and under which
names, and what the registry's answer to a referrer tells it."""

from __future__ import annotations

import json

import pytest

from leango.oci import Index, Platform, mediatypes
from leango.oci.blob import Blob
from leango.oci.descriptor import Descriptor
from leango.oci.digest import Digest
from leango.oci.errors import RegistryError
from leango.oci.manifest import Manifest
from leango.oci.registry.credentials import Credential
from leango.oci.registry.push import Pusher, PushReport
from leango.oci.registry.transport import RegistryOptions, Transport
from leango.oci.registry.upload import BlobOutcome
from support.clock import instant_retry

REPO = "team/app"


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
    f = fake()
    art = _artifact("one")
    seen = []
    report = _pusher(f, progress=lambda *a: seen.append(a)).push(art, ("v1", "latest"))
    assert report.digest == str(art.digest) and report.tags == ["v1", "latest"]
    assert sorted((b.digest, b.action) for b in report.blobs) == sorted(
        (str(b.digest), "uploaded") for b in art.blobs())
    assert f.manifests[(REPO, "v1")][1] == art.raw and f.manifests[(REPO, "latest")][1] == art.raw
    assert f.manifests[(REPO, "v1")][0] == mediatypes.OCI_MANIFEST
    assert seen and all(s[0] in {str(b.digest) for b in art.blobs()} for s in seen)  # progress reached
    again = _pusher(f).push(art, ("v2",))
    assert {b.action for b in again.blobs} == {"exists"} and again.tags == ["v2"]


def test_untagged_pushes_name_the_manifest_by_digest_and_children_go_first(fake, make_image):
    f = fake()
    index = Index((make_image(), make_image(platform=Platform("linux", "arm64"))))
    report = _pusher(f).push(index, ())
    assert report.tags == []
    names = [c.path.rsplit("/", 1)[1] for c in f.find("PUT", "/manifests/")]
    assert names == [*(str(i.digest) for i in index.images()), str(index.digest)]


def test_mount_from_skips_the_repository_itself():
    t = Transport("127.0.0.1:1", Credential(), RegistryOptions())
    assert Pusher(t, REPO, mount_from=(REPO, "team/base")).mount_from == ("team/base",)


def test_a_referrer_said_indexed_by_the_registry_stays_so(fake, monkeypatch):
    f = fake()
    pusher = _pusher(f)
    answers = iter([True, False])
    monkeypatch.setattr(pusher, "put_manifest", lambda blob, ref: next(answers))
    pusher.push(_artifact("sbom"), ("a", "b"))  # the first PUT said OCI-Subject, the second did not
    assert pusher.indexed_by_registry is True
    other = _pusher(f)
    monkeypatch.setattr(other, "put_manifest", lambda blob, ref: False)
    other.push(_artifact("sbom"), ("a",))
    assert other.indexed_by_registry is False


def _refused(status, *entries):
    from leango.oci.errors import ErrorEntry, RegistryError
    return RegistryError(f"PUT x returned HTTP {status}", status=status,
                         errors=tuple(ErrorEntry(c, m) for c, m in entries), attempts=2)


def test_a_refused_write_is_explained_by_what_it_means():
    from leango.oci.registry.upload import explained_refusal, write_refusal_explained
    missing = explained_refusal("reg.example", "team/app", _refused(404, ("NAME_UNKNOWN", "no such repo")))
    assert str(missing) == ("reg.example/team/app does not exist, and the registry does not create repositories on "
                            "push (as Amazon ECR): create the repository first, then push again (after 2 attempts)")
    assert (missing.status, missing.code, missing.attempts, missing.transient) == (404, "NAME_UNKNOWN", 2, False)
    denied = explained_refusal("reg.example", "team/app", _refused(403, ("DENIED", "requested access to the "
                                                                         "resource is denied")))
    assert denied.message == ("the registry denied pushing to reg.example/team/app (DENIED: requested access to "
                              "the resource is denied): check the repository name, and that the account logged in "
                              "to the registry may push there")
    assert (denied.status, denied.code, denied.transient) == (403, "DENIED", False)
    # DENIED named second, or a 403 without a body, or DENIED under another status: still a denial
    second = explained_refusal("r", "a", _refused(401, ("UNAUTHORIZED", "u"), ("DENIED", "d")))
    assert second.message.startswith("the registry denied pushing to r/a (DENIED: d):")
    assert explained_refusal("r", "a", _refused(403)).message.startswith("the registry denied pushing to r/a "
                                                                         "(HTTP 403):")
    assert explained_refusal("r", "a", _refused(403, ("OTHER", "o"))).message.startswith(
        "the registry denied pushing to r/a (OTHER: o):")
    # anything else goes on as it was
    for other in (_refused(500, ("UNKNOWN", "x")), _refused(401, ("UNAUTHORIZED", "u")), _refused(404)):
        assert explained_refusal("r", "a", other) is other
    with pytest.raises(type(missing)) as info, write_refusal_explained("r", "a"):
        raise _refused(404, ("NAME_UNKNOWN", ""))
    assert info.value.message.startswith("r/a does not exist") and info.value.__cause__ is not None
    plain = _refused(500)
    with pytest.raises(type(missing)) as info, write_refusal_explained("r", "a"):
        raise plain
    assert info.value is plain


def test_a_refused_manifest_is_said_by_its_status():
    import json

    from leango.oci.registry.push import _manifest_refusal
    data = b'{"x": 1}'
    assert _manifest_refusal(_refused(413), "v1", mediatypes.OCI_MANIFEST, data) == \
        "the registry refused manifest v1 (8 bytes) as too large (HTTP 413)"
    assert _manifest_refusal(_refused(415, ("MANIFEST_INVALID", "no")), "v1", mediatypes.OCI_INDEX, data) == \
        f"the registry does not take manifests of type {mediatypes.OCI_INDEX} (HTTP 415): it refused v1 " \
        "(MANIFEST_INVALID: no)"
    assert _manifest_refusal(_refused(415), "v1", mediatypes.OCI_INDEX, data) == \
        f"the registry does not take manifests of type {mediatypes.OCI_INDEX} (HTTP 415): it refused v1"
    for index_type in sorted(mediatypes.INDEX_TYPES):
        referrer = json.dumps({"subject": {"mediaType": index_type, "digest": "sha256:ab"}}).encode()
        assert _manifest_refusal(_refused(405), "sha256:cd", mediatypes.OCI_MANIFEST, referrer) == (
            "the registry refused manifest sha256:cd, attached to the image index sha256:ab (HTTP 405): it takes "
            "no referrers of an index (as Amazon ECR); leave out what is attached to the index (the provenance, "
            "the index's signature) or push to another registry")
    # a 405 for a referrer of an image, for no referrer, or for what is not JSON: not this case
    of_image = json.dumps({"subject": {"mediaType": mediatypes.OCI_MANIFEST, "digest": "sha256:ab"}}).encode()
    for body in (of_image, b'{"schemaVersion": 2}', b"not json", b"[1]", b'{"subject": "x"}'):
        assert _manifest_refusal(_refused(405), "v1", mediatypes.OCI_MANIFEST, body) == ""
    for status in (400, 401, 404, 500):
        assert _manifest_refusal(_refused(status), "v1", mediatypes.OCI_MANIFEST, data) == ""


def test_put_manifest_says_what_the_registry_did_with_a_subject(fake, tmp_path):
    image = _artifact("image")
    sbom = _artifact("sbom", subject=image.descriptor)
    for says, indexed in ((True, True), (False, False)):
        f = fake(subject_header=says)
        pusher = _pusher(f)
        assert pusher.put_manifest(image.root, "v1") is False  # no subject: nothing indexed
        assert pusher.put_manifest(sbom.root, str(sbom.digest)) is indexed
        # a manifest read from a file (no bytes in memory) is sent as it is
        stored = tmp_path / "manifest.json"
        stored.write_bytes(image.raw)
        assert pusher.put_manifest(Blob(image.descriptor, path=stored), "v2") is False
        assert f.manifests[(REPO, "v2")] == (image.descriptor.media_type, image.raw)


def test_a_refused_manifest_put_is_final_and_says_what_it_means(fake):
    big = _artifact("x" * 500)
    f = fake(manifest_limit=100, repositories=(REPO,))
    with pytest.raises(RegistryError) as info:
        _pusher(f).put_manifest(big.root, "v1")
    assert str(info.value) == f"the registry refused manifest v1 ({len(big.raw)} bytes) as too large (HTTP 413)"
    assert (info.value.status, info.value.transient, [e.code for e in info.value.errors]) == \
        (413, False, ["SIZE_INVALID"])
    other = Pusher(Transport(f.host, Credential(), RegistryOptions(retry=instant_retry(2))), "team/other")
    with pytest.raises(RegistryError) as info:  # ECR: the repository must exist
        other.put_manifest(_artifact("small").root, "v1")
    assert str(info.value).startswith(f"{f.host}/team/other does not exist, and the registry does not create ")
    plain = json.dumps({"schemaVersion": 2}).encode()
    with pytest.raises(RegistryError) as info:  # a refusal that says enough itself: as it came
        _pusher(fake(require_media_type=True)).put_manifest(
            Blob(Descriptor(mediatypes.OCI_MANIFEST, Digest.of_bytes(plain), len(plain)), data=plain), "v1")
    assert info.value.status == 400 and "mediaType is required" in str(info.value)


def test_the_sink_pushes_each_repository_then_its_referrers_saying_each(fake, caplog):
    f = fake()
    import logging

    from leango.oci import Reference
    from leango.oci.referrers import Tagged
    from leango.oci.registry.client import Registry
    from leango.oci.sinks.registry import push
    image = _artifact("image")
    sbom = _artifact("sbom", subject=image.descriptor)
    tag = "sha256-" + image.digest.hex + ".sig"
    first_sig, second_sig, both = _artifact("sig one"), _artifact("sig two"), _artifact("both")
    seen = []

    def merge(existing, blob_of):
        layer = Descriptor.from_json(json.loads(existing)["layers"][0])
        blob = blob_of(layer)
        with blob.open() as f:
            seen.append((blob.descriptor, f.read()))
        return both
    sent = []
    refs = [Reference(f.host, REPO, "v1"), Reference(f.host, "team/copy", "v1")]
    options = RegistryOptions(retry=instant_retry(2))
    with Registry(options=options) as client, caplog.at_level(logging.INFO, logger="leango"):
        push(image, refs, client=client, referrers=[sbom, Tagged(tag, first_sig, merge)],
             progress=lambda digest, done, total: sent.append(digest))
    said = [r.getMessage() for r in caplog.records if r.name == "leango.oci.sinks.registry"]
    assert said == [line for repo in (REPO, "team/copy") for line in (
        f"pushing to {f.host}/{repo}",
        f"attaching {sbom.digest} ({sbom.media_type}) to {f.host}/{repo}",
        f"attaching {first_sig.digest} as {tag} to {f.host}/{repo}")]
    assert seen == []  # nothing under the tag yet: written as it is
    assert str(next(sbom.blobs()).digest) in sent and str(next(first_sig.blobs()).digest) in sent
    with Registry(options=options) as client:
        copy = client.repository(f.host, "team/copy")
        assert copy.manifest(tag).raw == first_sig.raw and copy.manifest(str(sbom.digest)).raw == sbom.raw
    # the referrers' blobs reach the second repository by mount from the first, as the image's do
    mounts = [c for c in f.find("POST", "/v2/team/copy/blobs/uploads/") if c.query.get("from") == REPO]
    assert {c.query["mount"] for c in mounts} >= {str(next(sbom.blobs()).digest), str(next(first_sig.blobs()).digest)}
    with Registry(options=options) as client:  # a second signature: merged with what the tag holds
        push(image, refs[:1], client=client, referrers=[Tagged(tag, second_sig, merge)])
        assert client.repository(f.host, REPO).manifest(tag).raw == both.raw
    assert seen == [(next(first_sig.blobs()).descriptor, b"sig one")]
