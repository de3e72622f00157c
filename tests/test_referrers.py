"""Referrers in the model: the fallback tag's name, a manifest's subject, the descriptor a
referrers list holds for it, and the list itself (the distribution spec's rules, both sides)."""

from __future__ import annotations

import json

import pytest

from leango.oci import Digest, mediatypes
from leango.oci.descriptor import Descriptor
from leango.oci.errors import OciError
from leango.oci.referrers import (
    fallback_tag,
    filtered,
    parse_referrers,
    referrer_descriptor,
    referrers_index,
    subject_of,
)

SUBJECT = Digest.of_bytes(b"subject")


def test_fallback_tag_is_alg_dash_ref_each_truncated():
    assert fallback_tag(SUBJECT) == f"sha256-{SUBJECT.hex}"
    long = Digest.parse("sha512:" + "ab" * 64)
    assert fallback_tag(long) == "sha512-" + ("ab" * 64)[:64]  # the reference part: 64 characters at most
    assert len(fallback_tag(long)) == len("sha512-") + 64


def _manifest(**fields) -> bytes:
    doc = {"schemaVersion": 2, "mediaType": mediatypes.OCI_MANIFEST,
           "config": {"mediaType": "application/vnd.example.config", "digest": str(SUBJECT), "size": 7},
           "layers": []} | fields
    return json.dumps(doc).encode()


def test_subject_of_reads_the_subject_and_nothing_else():
    subject = {"mediaType": mediatypes.OCI_MANIFEST, "digest": str(SUBJECT), "size": 7}
    assert subject_of(_manifest(subject=subject)) == SUBJECT
    assert subject_of(_manifest()) is None
    assert subject_of(_manifest(subject="sha256:not-an-object")) is None
    assert subject_of(_manifest(subject={"digest": "nonsense"})) is None
    assert subject_of(b"[1, 2]") is None
    assert subject_of(b"not json") is None


def test_referrer_descriptor_carries_type_annotations_and_identity():
    raw = _manifest(artifactType="application/spdx+json", annotations={"b": "2", "a": "1"})
    d = referrer_descriptor(raw, mediatypes.OCI_MANIFEST)
    assert d == Descriptor(mediatypes.OCI_MANIFEST, Digest.of_bytes(raw), len(raw), (("a", "1"), ("b", "2")),
                           artifact_type="application/spdx+json")
    # Without an artifactType, the config's media type names it (image-spec: artifacts may say it there).
    plain = referrer_descriptor(_manifest(), mediatypes.OCI_INDEX)
    assert plain.artifact_type == "application/vnd.example.config"
    assert plain.media_type == mediatypes.OCI_INDEX and plain.annotations == ()
    assert referrer_descriptor(_manifest(config=None), mediatypes.OCI_MANIFEST).artifact_type == ""


def test_referrers_index_round_trips_and_bad_lists_are_refused():
    a = referrer_descriptor(_manifest(artifactType="application/a"), mediatypes.OCI_MANIFEST)
    b = referrer_descriptor(_manifest(artifactType="application/b"), mediatypes.OCI_MANIFEST)
    raw = referrers_index([a, b])
    doc = json.loads(raw)
    assert doc["schemaVersion"] == 2 and doc["mediaType"] == mediatypes.OCI_INDEX
    assert parse_referrers(raw, "here") == [a, b]
    assert parse_referrers(b'{"manifests": null}', "here") == []
    for bad in (b"not json", b"[1]", b'{"manifests": [{"digest": "x"}]}'):
        with pytest.raises(OciError, match="referrers list of here"):
            parse_referrers(bad, "here")


def test_filtered_keeps_each_once_and_only_the_type_asked():
    a = referrer_descriptor(_manifest(artifactType="application/a"), mediatypes.OCI_MANIFEST)
    b = referrer_descriptor(_manifest(artifactType="application/b"), mediatypes.OCI_MANIFEST)
    assert filtered([a, b, a]) == [a, b]
    assert filtered([a, b, a], "application/b") == [b]
    assert filtered([a, b], "application/none") == []


def test_attachment_tags_are_cosigns_names_and_nothing_near_them():
    from leango.oci.referrers import attachment_tags, is_attachment_tag
    hex_ = SUBJECT.hex
    assert attachment_tags(SUBJECT) == (f"sha256-{hex_}.sig", f"sha256-{hex_}.att", f"sha256-{hex_}.sbom")
    for name in (f"sha256-{hex_}", f"sha256-{hex_}.sig", f"sha256-{hex_}.att", f"sha256-{hex_}.sbom",
                 f"reg.example/app:sha256-{hex_}.sig"):
        assert is_attachment_tag(name), name
    for name in (f"sha256-{hex_}.sigx", f"sha256-{hex_}.txt", f"sha256-{hex_[:63]}.sig", f"sha512-{hex_}",
                 f"sha256-{hex_.upper()}", f"xsha256-{hex_}", "v1", "", f"sha256-{hex_}.sig:v1"):
        assert not is_attachment_tag(name), name


def test_tagged_takes_only_attachment_tags_and_stands_for_its_artifact_but_runs_nothing(make_image):
    from leango.oci.referrers import Tagged
    image = make_image()
    tag = f"sha256-{SUBJECT.hex}.sig"
    tagged = Tagged(tag, image)
    assert (tagged.descriptor, tagged.digest, tagged.media_type, tagged.raw, tagged.root) == \
        (image.descriptor, image.digest, image.media_type, image.raw, image.root)
    assert list(tagged.blobs()) == list(image.blobs())
    assert list(tagged.child_manifests()) == list(image.child_manifests())
    assert image.images() and tagged.images() == ()  # a signature is shaped as an image, never run
    for bad in ("v1", f"reg/app:{tag}", f"sha256-{SUBJECT.hex}.sigs"):
        with pytest.raises(OciError) as info:
            Tagged(bad, image)
        assert str(info.value) == f"{bad!r} is not an attachment tag (sha256-<hex>.sig, .att or .sbom)"


def test_tagged_merges_only_with_another_manifest_and_names_the_tag_when_it_cannot(make_image):
    from leango.oci.referrers import Tagged
    image, other = make_image(), make_image(name="other")
    tag = f"sha256-{SUBJECT.hex}.att"
    calls = []

    def merge(existing, blob_of):
        calls.append(existing)
        return other
    tagged = Tagged(tag, image, merge)
    assert tagged.merged(None, None) is image  # nothing there
    assert tagged.merged(image.raw, None) is image  # already there, byte for byte
    assert Tagged(tag, image).merged(other.raw, None) is image  # no merge: replaced
    assert calls == []
    assert tagged.merged(other.raw, None) is other and calls == [other.raw]

    def cannot(existing, blob_of):
        raise ValueError("not an image manifest")
    with pytest.raises(OciError) as info:
        Tagged(tag, image, cannot).merged(other.raw, None)
    assert str(info.value) == f"{tag} holds a manifest leango cannot add to, and does not replace: not an image manifest"
