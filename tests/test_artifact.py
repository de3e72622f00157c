"""The Artifact and Sink contracts: images, nested indexes and artifact manifests through every sink."""

from __future__ import annotations

import json

import pytest

from leango.builder.pipeline import write_sinks
from leango.oci import Blob, Descriptor, Digest, Index, OciError, Platform, mediatypes, parse_reference
from leango.oci.artifact import all_blobs
from leango.oci.manifest import EMPTY_CONFIG, Manifest
from leango.oci.sinks import DockerArchiveSink, LayoutSink, OciArchiveSink, Sink, SinkResult
from support import schemas
from support.ocicheck import check_layout
from support.peers import extract, skopeo_inspect

SBOM_TYPE = "application/spdx+json"
REF = parse_reference("localhost:5000/app:v1")


def _file_blob(name: str, data: bytes, media_type: str = "application/json") -> Blob:
    desc = Descriptor(media_type, Digest.of_bytes(data), len(data),
                      annotations=(("org.opencontainers.image.title", name),))
    return Blob(desc, data=data)


def _sbom(subject=None) -> Manifest:
    return Manifest(SBOM_TYPE, (_file_blob("sbom.spdx.json", b'{"spdxVersion":"SPDX-2.3"}'),),
                    subject=subject)


def test_artifact_manifest_follows_the_image_spec_artifact_guidance(make_image):
    img = make_image()
    sbom = _sbom(subject=img.descriptor)
    doc = json.loads(sbom.raw)
    schemas.validate("manifest", doc)
    assert doc["artifactType"] == SBOM_TYPE
    assert doc["config"] == EMPTY_CONFIG.descriptor.to_json()
    assert doc["subject"]["digest"] == str(img.digest)
    assert doc["layers"][0]["annotations"]["org.opencontainers.image.title"] == "sbom.spdx.json"
    assert sbom.descriptor.artifact_type == SBOM_TYPE and sbom.images() == ()
    assert [b.digest for b in sbom.blobs()] == [sbom.layers[0].digest, EMPTY_CONFIG.digest]


def test_artifact_without_layers_carries_the_empty_descriptor():
    doc = json.loads(Manifest("application/vnd.example.signal").raw)
    assert doc["layers"] == [EMPTY_CONFIG.descriptor.to_json()]
    assert [b.digest for b in Manifest("application/vnd.example.signal").blobs()] == [EMPTY_CONFIG.digest]


def test_artifact_type_must_be_a_media_type():
    with pytest.raises(OciError):
        Manifest("sbom")


def _nested(make_image) -> tuple[Index, Index]:
    amd, arm = make_image(), make_image(platform=Platform("linux", "arm64"))
    inner = Index((arm,))
    return Index((amd, inner, _sbom(subject=amd.descriptor))), inner


def test_index_holds_images_nested_indexes_and_artifacts(make_image):
    outer, inner = _nested(make_image)
    doc = json.loads(outer.raw)
    schemas.validate("index", doc)
    assert [m["mediaType"] for m in doc["manifests"]] == [
        mediatypes.OCI_MANIFEST, mediatypes.OCI_INDEX, mediatypes.OCI_MANIFEST]
    assert doc["manifests"][2]["artifactType"] == SBOM_TYPE
    assert [img.config.platform.architecture for img in outer.images()] == ["amd64", "arm64"]
    order = [b.digest for b in outer.child_manifests()]
    # children before their parents: arm64's manifest before the inner index that lists it
    assert order.index(inner.manifests[0].digest) < order.index(inner.digest)
    assert outer.digest not in order and len(order) == len(set(order)) == 4
    blobs = [b.digest for b in outer.blobs()]
    assert len(blobs) == len(set(blobs)), "a shared base layer is listed once"
    assert not set(blobs) & set(order), "content blobs and manifests are kept apart"


def test_index_refuses_the_same_manifest_twice(make_image):
    img = make_image()
    with pytest.raises(OciError, match="twice"):
        Index((img, img))


def test_nested_index_round_trips_through_layout_and_archive(make_image, tmp_path):
    outer, _ = _nested(make_image)
    sinks: list[Sink] = [LayoutSink(tmp_path / "layout"), OciArchiveSink(tmp_path / "a.tar")]
    results = write_sinks(sinks, outer, [REF])
    assert [r.kind for r in results] == ["oci_layout", "oci_archive"]
    assert all(r.references == (REF.with_digest(outer.digest),) for r in results)
    for root in (tmp_path / "layout", extract(tmp_path / "a.tar", tmp_path / "x")):
        report = check_layout(root)
        stored = {p.name for p in (root / "blobs" / "sha256").iterdir()}
        assert stored == {b.digest.hex for b in all_blobs(outer)}
        assert len(report.manifests) == 3  # two images and the SBOM
    raw = skopeo_inspect(f"oci:{tmp_path / 'layout'}:{REF}", raw=True)
    assert raw["manifests"][1]["mediaType"] == mediatypes.OCI_INDEX


def test_docker_archive_takes_the_images_of_any_artifact(make_image, tmp_path):
    outer, _ = _nested(make_image)
    result = DockerArchiveSink(tmp_path / "d.tar").write(outer, [REF])
    manifest = json.loads((extract(tmp_path / "d.tar", tmp_path / "x") / "manifest.json").read_text())
    assert len(manifest) == 2 and result.location == str(tmp_path / "d.tar")


def test_docker_archive_refuses_an_artifact_without_images(tmp_path):
    from leango.oci.errors import ArchiveError
    with pytest.raises(ArchiveError, match="no"):
        DockerArchiveSink(tmp_path / "d.tar").write(_sbom(), [REF])
    assert not (tmp_path / "d.tar").exists()


def test_a_new_sink_plugs_in_without_touching_the_others(make_image):
    """The pipeline only knows the Sink protocol."""
    class Recording:
        kind = "recording"

        def __init__(self) -> None:
            self.seen: list = []

        def write(self, artifact, references) -> SinkResult:
            self.seen.append((artifact.digest, tuple(references)))
            return SinkResult(self.kind, "memory", tuple(r.with_digest(artifact.digest) for r in references))

    img, sink = make_image(), Recording()
    [result] = write_sinks([sink], img, [REF])
    assert sink.seen == [(img.digest, (REF,))] and result.location == "memory"
