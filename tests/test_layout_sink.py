"""The layout sink piece by piece: how index.json entries merge, what a layout directory must
be, when a blob already there is trusted, and the referrers a write carries."""

from __future__ import annotations

import json

import pytest

from leango.oci import Reference, mediatypes
from leango.oci.blob import Blob
from leango.oci.descriptor import Descriptor
from leango.oci.digest import Digest
from leango.oci.errors import DigestMismatch, LayoutError
from leango.oci.manifest import Manifest
from leango.oci.sinks import layout
from leango.oci.sinks.layout import LayoutSink, merge_index, read_index, write_blob, write_layout

REF = "org.opencontainers.image.ref.name"


def _d(text: str, name: str | None = None) -> Descriptor:
    data = text.encode()
    return Descriptor(mediatypes.OCI_MANIFEST, Digest.of_bytes(data), len(data), ((REF, name),) if name else ())


def test_named_entries_replace_their_name_unnamed_ones_their_digest():
    old_v1, old_v2, old_ref, other_ref = _d("a", "v1"), _d("b", "v2"), _d("r1"), _d("r2")
    new_v1, new_ref = _d("c", "v1"), _d("r1")
    assert merge_index([old_v1, old_v2, old_ref, other_ref], [new_v1, new_ref]) == \
        [old_v2, other_ref, new_v1, new_ref]
    # An unnamed entry never removes a named one of the same digest (a tag stays a tag).
    named_same = _d("r1", "keep")
    assert merge_index([named_same], [_d("r1")]) == [named_same, _d("r1")]


def _artifact(text: str, subject: Descriptor | None = None) -> Manifest:
    data = text.encode()
    return Manifest("application/vnd.test.a", (Blob(Descriptor("application/vnd.test", Digest.of_bytes(data),
                                                              len(data)), data=data),), subject=subject)


def test_a_write_carries_its_referrers_and_names_its_location(tmp_path):
    image = _artifact("subject")
    sbom = _artifact("sbom", subject=image.descriptor)
    result = LayoutSink(tmp_path / "new" / "nested").write(image, [Reference("r.example", "team/app", "v1")], [sbom])
    root = tmp_path / "new" / "nested"
    assert result.location == str(root) and result.kind == "oci_layout"
    doc = json.loads((root / "index.json").read_bytes())
    assert doc["mediaType"] == mediatypes.OCI_INDEX and doc["schemaVersion"] == 2
    entries = read_index(root)
    assert [e.digest for e in entries] == [image.digest, sbom.digest]
    assert entries[0].annotation(REF) == "r.example/team/app:v1" and entries[1].annotation(REF) is None
    assert entries[1].artifact_type == "application/vnd.test.a"
    assert (root / "blobs" / "sha256" / sbom.digest.hex).read_bytes() == sbom.raw


def test_a_directory_that_is_not_a_layout_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(LayoutError) as info:
        write_layout(tmp_path, _artifact("x"))
    assert str(info.value) == (f"{tmp_path} is a non-empty directory that is not an OCI layout; "
                               "choose an empty or new directory")
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(LayoutError) as info:
        write_layout(file, _artifact("x"))
    assert str(info.value) == f"{file} exists and is not a directory"


@pytest.mark.parametrize("name", ["oci-layout", "index.json", "blobs", "blobs/sha256"])
def test_no_layout_file_may_be_a_symlink(tmp_path, name):
    root = tmp_path / "l"
    write_layout(root, _artifact("x"))
    target = root / name
    elsewhere = tmp_path / "elsewhere"
    if target.is_dir():
        target.rename(elsewhere)
    else:
        elsewhere.write_bytes(target.read_bytes())
        target.unlink()
    target.symlink_to(elsewhere)
    with pytest.raises(LayoutError, match=f"{root / name} is a symlink; refusing to write through it"):
        write_layout(root, _artifact("y"))


def test_a_malformed_index_is_named(tmp_path):
    root = tmp_path / "l"
    write_layout(root, _artifact("x"))
    (root / "index.json").write_text('{"manifests": 3}')
    with pytest.raises(LayoutError, match=f"^{root / 'index.json'}: not a valid OCI index: "):
        read_index(root)
    (root / "index.json").write_text("{}")
    assert read_index(root) == []


def test_a_blob_already_there_is_trusted_only_with_the_right_bytes(tmp_path):
    data = b"layer bytes"
    blob = Blob(Descriptor("application/vnd.test", Digest.of_bytes(data), len(data)), data=data)
    path = tmp_path / "blobs" / "sha256" / blob.digest.hex
    path.parent.mkdir(parents=True)
    path.write_bytes(b"LAYER BYTES")  # same size, other bytes: rewritten
    write_blob(tmp_path, blob)
    assert path.read_bytes() == data
    path.write_bytes(data + b"!")  # other size: rewritten
    write_blob(tmp_path, blob)
    assert path.read_bytes() == data
    assert layout._holds(path, blob) and not layout._holds(tmp_path / "missing", blob)
    path.unlink()
    path.symlink_to(tmp_path / "target")
    (tmp_path / "target").write_bytes(data)
    assert not layout._holds(path, blob)  # a link is never trusted


def test_a_blob_that_is_not_what_it_says_is_not_written(tmp_path):
    liar = Blob(Descriptor("application/vnd.test", Digest.of_bytes(b"said"), 4), data=b"real")
    with pytest.raises(DigestMismatch) as info:
        write_blob(tmp_path, liar)
    assert str(info.value) == (f"blob {liar.digest}: expected {liar.digest} (4 bytes), "
                               f"got {Digest.of_bytes(b'real')} (4 bytes)")
    assert not (tmp_path / "blobs" / "sha256" / liar.digest.hex).exists()


TAG = "sha256-" + "a" * 64 + ".sig"


def test_a_tagged_attachment_is_merged_with_what_its_tag_holds(tmp_path):
    from leango.oci.referrers import Tagged
    root = tmp_path / "layout"
    image, first, second, both = _artifact("subject"), _artifact("sig one"), _artifact("sig two"), _artifact("both")
    seen = []

    def merge(existing, blob_of):
        held = json.loads(existing)
        layer = Descriptor.from_json(held["layers"][0])
        with blob_of(layer).open() as f:
            seen.append((existing, f.read()))
        return both
    write_layout(root, image, ["v1"], [Tagged(TAG, first, merge)])  # nothing under the tag: written as is
    assert seen == []
    tagged = [e for e in read_index(root) if e.annotation(REF) == TAG]
    assert [e.digest for e in tagged] == [first.digest]
    write_layout(root, image, ["v1"], [Tagged(TAG, second, merge)])
    # merge saw the manifest the tag held, and reads its blobs from the layout
    assert seen == [(first.raw, b"sig one")]
    assert [e.digest for e in read_index(root) if e.annotation(REF) == TAG] == [both.digest]
    assert (root / "blobs" / "sha256" / both.digest.hex).read_bytes() == both.raw
    # without merge, the tag is replaced
    write_layout(root, image, ["v1"], [Tagged(TAG, second)])
    assert [e.digest for e in read_index(root) if e.annotation(REF) == TAG] == [second.digest]
    # a tag whose manifest blob is gone: nothing to merge with
    (root / "blobs" / "sha256" / second.digest.hex).unlink()
    write_layout(root, image, ["v1"], [Tagged(TAG, first, merge)])
    assert len(seen) == 1 and [e.digest for e in read_index(root) if e.annotation(REF) == TAG] == [first.digest]


def test_a_tag_holding_damaged_bytes_is_refused_not_merged(tmp_path):
    from leango.oci.referrers import Tagged
    root = tmp_path / "layout"
    image, first = _artifact("subject"), _artifact("sig one")
    write_layout(root, image, [], [Tagged(TAG, first)])
    (root / "blobs" / "sha256" / first.digest.hex).write_bytes(first.raw.replace(b"sha256", b"sha257"))
    with pytest.raises(DigestMismatch) as info:
        write_layout(root, image, [], [Tagged(TAG, _artifact("sig two"), lambda e, b: image)])
    assert f"manifest of {TAG}" in str(info.value) and str(first.digest) in str(info.value)
    # the index is as it was
    assert [e.digest for e in read_index(root) if e.annotation(REF) == TAG] == [first.digest]
