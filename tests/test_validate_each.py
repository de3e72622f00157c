"""validate_layout, one inconsistency at a time, and Descriptor/Platform JSON both ways.
Written against the survivors of scripts/mutation (docs/testing.md)."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from leango.oci import Platform, mediatypes
from leango.oci.canonical import canonical_json
from leango.oci.descriptor import Descriptor
from leango.oci.digest import Digest
from leango.oci.errors import DigestMismatch, LayoutError, OciError
from leango.oci.sinks.layout import blob_path, write_layout
from leango.oci.validate import diff_id, validate_layout


@pytest.fixture
def layout(tmp_path, make_image):
    img = make_image("app")
    root = tmp_path / "layout"
    write_layout(root, img, ["r.example/app:1"])
    return root, img


def _index(root):
    return json.loads((root / "index.json").read_text())


def _blob(root, digest):
    return blob_path(root, Digest.parse(str(digest)))


def _invalid(root, error=LayoutError):
    """What validate_layout(root) raises (it must raise error)."""
    with pytest.raises(error) as err:
        validate_layout(root)
    return err.value


def _put(root, data: bytes) -> dict:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    _blob(root, digest).write_bytes(data)
    return {"digest": digest, "size": len(data)}


def _set_entry(root, **changes):
    index = _index(root)
    index["manifests"][0].update(changes)
    (root / "index.json").write_text(json.dumps(index))


def test_a_good_layout_reports_everything(layout):
    root, img = layout
    report = validate_layout(root)
    assert report.manifests == [img.digest]
    assert report.blobs == {img.digest, img.config_descriptor.digest, *(l.digest for l in img.layers)}


def test_oci_layout_file(layout):
    root, _ = layout
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.1.0"}')
    err = _invalid(root)
    assert str(err) == f"{root}: missing or invalid oci-layout file"
    (root / "oci-layout").unlink()
    with pytest.raises(LayoutError, match="missing or invalid oci-layout file"):
        validate_layout(root)


def test_oci_layout_not_json(layout):
    root, _ = layout
    (root / "oci-layout").write_text("{")
    err = _invalid(root)
    assert str(err).startswith("oci-layout: invalid JSON: ")


def test_empty_index(layout):
    root, _ = layout
    (root / "index.json").write_text('{"schemaVersion": 2, "manifests": []}')
    err = _invalid(root)
    assert str(err) == f"{root}: index.json lists no manifests"


@pytest.mark.parametrize("which", ["manifest", "config", "layer"])
def test_missing_blob(layout, which):
    root, img = layout
    digest = {"manifest": img.digest, "config": img.config_descriptor.digest, "layer": img.layers[-1].digest}[which]
    _blob(root, digest).unlink()
    err = _invalid(root)
    assert str(err) == f"blob {digest} is missing or not a regular file"


def test_symlinked_blob(layout, tmp_path):
    root, img = layout
    path = _blob(root, img.layers[0].digest)
    outside = tmp_path / "outside"
    outside.write_bytes(path.read_bytes())
    path.unlink()
    os.symlink(outside, path)
    with pytest.raises(LayoutError, match="is missing or not a regular file"):
        validate_layout(root)


def test_altered_blob(layout):
    root, img = layout
    path = _blob(root, img.layers[0].digest)
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    err = _invalid(root, DigestMismatch)
    assert err.what == f"blob {img.layers[0].digest.hex}"
    assert err.expected == str(img.layers[0].digest)
    assert err.actual == "sha256:" + hashlib.sha256(data).hexdigest()


def test_wrong_size(layout):
    root, img = layout
    _set_entry(root, size=img.descriptor.size + 1)
    err = _invalid(root, DigestMismatch)
    assert (err.what, err.expected, err.actual) == \
        (f"size of {img.digest}", str(img.descriptor.size + 1), str(img.descriptor.size))


def test_manifest_media_type_differs(layout):
    root, img = layout
    _set_entry(root, mediaType=mediatypes.DOCKER_MANIFEST)
    err = _invalid(root)
    assert str(err) == (f"manifest {img.digest}: mediaType {mediatypes.OCI_MANIFEST!r} "
                              f"differs from its descriptor's {mediatypes.DOCKER_MANIFEST!r}")


def _rewrite_manifest(root, img, edit_config=None, edit_manifest=None):
    manifest = json.loads(_blob(root, img.digest).read_bytes())
    if edit_config:
        config = json.loads(_blob(root, img.config_descriptor.digest).read_bytes())
        edit_config(config)
        manifest["config"].update(_put(root, canonical_json(config)))
    if edit_manifest:
        edit_manifest(manifest)
    entry = _put(root, canonical_json(manifest))
    _set_entry(root, **entry)
    return manifest


def test_diff_ids_differ(layout):
    root, img = layout
    manifest = _rewrite_manifest(root, img, edit_config=lambda c: c["rootfs"]["diff_ids"].reverse())
    err = _invalid(root, DigestMismatch)
    assert err.what == f"rootfs.diff_ids of config {manifest['config']['digest']}"
    assert err.expected == str([str(l.diff_id) for l in reversed(img.layers)])
    assert err.actual == str([str(l.diff_id) for l in img.layers])


def test_a_manifest_without_layers_has_none(layout):
    root, img = layout
    _rewrite_manifest(root, img, edit_manifest=lambda m: m.pop("layers"))
    err = _invalid(root, DigestMismatch)
    assert (err.expected, err.actual) == (str([str(l.diff_id) for l in img.layers]), "[]")


def test_a_nested_index_without_manifests_lists_nothing(layout):
    root, _ = layout
    entry = _put(root, canonical_json({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX}))
    _set_entry(root, mediaType=mediatypes.OCI_INDEX, **entry)
    assert validate_layout(root).manifests == []


def test_missing_rootfs(layout):
    root, img = layout
    _rewrite_manifest(root, img, edit_config=lambda c: c.pop("rootfs"))
    err = _invalid(root, DigestMismatch)
    assert err.expected == "None"


def test_manifest_not_json(layout):
    root, _ = layout
    _set_entry(root, **_put(root, b"{not json"))
    err = _invalid(root)
    assert str(err).startswith(hashlib.sha256(b"{not json").hexdigest() + ": invalid JSON: ")


def test_artifact_layers_are_checked_as_files(layout):
    root, img = layout
    file = _put(root, b"sbom")
    config = _put(root, b"{}")

    def edit(m):
        m["config"] = {"mediaType": "application/vnd.oci.empty.v1+json", **config}
        m["layers"] = [{"mediaType": "application/spdx+json", **file}]
        m["artifactType"] = "application/spdx+json"
    _rewrite_manifest(root, img, edit_manifest=edit)
    report = validate_layout(root)
    assert report.blobs == {Digest.parse(_index(root)["manifests"][0]["digest"]), Digest.parse(config["digest"]),
                            Digest.parse(file["digest"])}
    _blob(root, file["digest"]).write_bytes(b"SBOM")
    with pytest.raises(DigestMismatch):
        validate_layout(root)


def test_nested_index_and_plain_blob(layout):
    root, img = layout
    child = _index(root)["manifests"][0]
    child.pop("annotations", None)
    blob = _put(root, b"data")
    nested = _put(root, canonical_json({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": [
        child, {"mediaType": "application/octet-stream", **blob}]}))
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": mediatypes.OCI_INDEX, **nested}]}))
    report = validate_layout(root)
    assert report.manifests == [img.digest]
    assert Digest.parse(nested["digest"]) in report.blobs and Digest.parse(blob["digest"]) in report.blobs


def test_diff_id_of_each_compression(tmp_path, make_image):
    for compression, media_type in (("gzip", mediatypes.OCI_LAYER_GZIP), ("zstd", mediatypes.OCI_LAYER_ZSTD)):
        img = make_image(compression=compression)
        layer = img.layers[0]
        path = tmp_path / compression
        with layer.open() as src:
            path.write_bytes(src.read())
        assert diff_id(path, media_type) == layer.diff_id
    raw = tmp_path / "raw"
    raw.write_bytes(b"tar bytes")
    assert diff_id(raw, "application/vnd.oci.image.layer.v1.tar") == Digest.parse("sha256:" + hashlib.sha256(b"tar bytes").hexdigest())


# -- Descriptor and Platform JSON ---------------------------------------------------------------

D = "sha256:" + "a" * 64


def test_descriptor_round_trip_with_every_field():
    obj = {"mediaType": "m", "digest": D, "size": 3, "annotations": {"b": "2", "a": "1"},
           "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}, "artifactType": "t"}
    desc = Descriptor.from_json(obj)
    assert desc == Descriptor("m", Digest.parse(D), 3, (("a", "1"), ("b", "2")), Platform("linux", "arm", "v7"), "t")
    assert desc.to_json() == obj
    assert desc.annotation("a") == "1" and desc.annotation("z") is None


def test_descriptor_minimal():
    desc = Descriptor.from_json({"mediaType": "m", "digest": D, "size": "7"})
    assert desc == Descriptor("m", Digest.parse(D), 7)
    assert desc.to_json() == {"mediaType": "m", "digest": D, "size": 7}
    assert Descriptor.from_json({"mediaType": "m", "digest": D, "size": 1,
                                 "platform": {"os": "linux", "architecture": "amd64"}}).platform == \
        Platform("linux", "amd64", "")


@pytest.mark.parametrize("obj", [
    {"digest": D, "size": 1}, {"mediaType": "m", "size": 1}, {"mediaType": "m", "digest": D},
    {"mediaType": "m", "digest": D, "size": "x"},
    {"mediaType": "m", "digest": D, "size": 1, "platform": {"os": "linux"}},
    {"mediaType": "m", "digest": D, "size": 1, "annotations": ["x"]},
])
def test_descriptor_malformed(obj):
    with pytest.raises(OciError) as err:
        Descriptor.from_json(obj)
    assert str(err.value).startswith(f"malformed descriptor {obj!r}: ")


def test_descriptor_bad_digest():
    with pytest.raises(OciError, match="malformed sha256 digest 'x'"):
        Descriptor.from_json({"mediaType": "m", "digest": "sha256:x", "size": 1})


def test_with_annotations_merges_sorted():
    desc = Descriptor("m", Digest.parse(D), 1, (("b", "1"),), Platform("linux", "amd64"), "t")
    out = desc.with_annotations(a="2", b="3")
    assert out == Descriptor("m", Digest.parse(D), 1, (("a", "2"), ("b", "3")), Platform("linux", "amd64"), "t")


@pytest.mark.parametrize("text,expected", [
    ("linux/amd64", Platform("linux", "amd64")), (" linux/arm/v7 ", Platform("linux", "arm", "v7")),
])
def test_platform_parse(text, expected):
    assert Platform.parse(text) == expected


@pytest.mark.parametrize("text", ["linux", "linux/", "/amd64", "linux/arm/v7/x", "", "linux//v7"])
def test_platform_parse_refuses(text):
    with pytest.raises(OciError) as err:
        Platform.parse(text)
    assert str(err.value) == f"malformed platform {text!r}: expected OS/ARCH[/VARIANT]"


def test_platform_json_and_str():
    assert Platform("linux", "arm", "v7").to_json() == {"architecture": "arm", "os": "linux", "variant": "v7"}
    assert Platform("linux", "amd64").to_json() == {"architecture": "amd64", "os": "linux"}
    assert str(Platform("linux", "arm", "v7")) == "linux/arm/v7" and str(Platform("linux", "amd64")) == "linux/amd64"
