"""The read side of the model: documents accepted only as their descriptors name them, bytes kept
as they came, blobs verified while they stream."""

from __future__ import annotations

import io
import json

import pytest

from leango.oci import Digest, mediatypes
from leango.oci.descriptor import Descriptor
from leango.oci.errors import DigestMismatch, OciError
from leango.oci.parsed import MAX_MANIFEST, ParsedImage, ParsedIndex, ParsedManifest, VerifiedReader, parse

CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
LAYER = b"layer bytes"


class Blobs:
    def __init__(self, *blobs: bytes):
        self.blobs = {Digest.of_bytes(b): b for b in blobs}

    def resolve(self, reference):
        raise AssertionError("not used")

    def manifest_bytes(self, descriptor):
        return self.blobs[descriptor.digest]

    def open_blob(self, descriptor):
        return io.BytesIO(self.blobs[descriptor.digest])


def _desc(data: bytes, media_type: str) -> Descriptor:
    return Descriptor(media_type, Digest.of_bytes(data), len(data))


def _manifest(extra: dict | None = None, media_type: str | None = mediatypes.OCI_MANIFEST) -> bytes:
    doc = {"schemaVersion": 2, "config": _desc(CONFIG, mediatypes.OCI_CONFIG).to_json(),
           "layers": [_desc(LAYER, mediatypes.OCI_LAYER_GZIP).to_json()], **(extra or {})}
    if media_type:
        doc["mediaType"] = media_type
    return json.dumps(doc, indent=1).encode()  # not canonical: kept as it came


def test_an_image_is_parsed_from_its_exact_bytes_with_unknown_fields_kept():
    raw = _manifest({"x-vendor": {"kept": True}})
    image = parse(raw, _desc(raw, mediatypes.OCI_MANIFEST), Blobs(CONFIG, LAYER), "test")
    assert isinstance(image, ParsedImage) and image.raw == raw and image.root.data == raw
    assert [b.open().read() for b in image.blobs()] == [LAYER, CONFIG]
    assert image.config()["os"] == "linux" and image.images() == (image,)


def test_an_artifact_manifest_and_an_index():
    raw = _manifest({"artifactType": "application/spdx+json"})
    art = parse(raw, _desc(raw, mediatypes.OCI_MANIFEST), Blobs(CONFIG, LAYER), "test")
    assert isinstance(art, ParsedManifest) and art.artifact_type == "application/spdx+json" and art.images() == ()
    index_raw = json.dumps({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX,
                            "manifests": [_desc(raw, mediatypes.OCI_MANIFEST).to_json()]}).encode()
    index = parse(index_raw, _desc(index_raw, mediatypes.OCI_INDEX), Blobs(raw, CONFIG, LAYER), "test")
    assert isinstance(index, ParsedIndex) and [m.digest for m in index.manifests] == [Digest.of_bytes(raw)]
    assert [b.data for b in index.child_manifests()] == [raw]


@pytest.mark.parametrize("change,message", [
    (lambda raw, d: (raw + b" ", d), "bytes"),
    (lambda raw, d: (raw.replace(b'"layers"', b'"Layers"'), d), "expected sha256:"),
    (lambda raw, d: (raw, Descriptor(mediatypes.OCI_INDEX, d.digest, d.size)), "its descriptor says"),
    (lambda raw, d: (b"[]", Descriptor(d.media_type, Digest.of_bytes(b"[]"), 2)), "not a schemaVersion 2"),
    (lambda raw, d: (b"{", Descriptor(d.media_type, Digest.of_bytes(b"{"), 1)), "is not JSON"),
])
def test_a_document_that_is_not_what_its_descriptor_says_is_refused(change, message):
    raw = _manifest()
    bad_raw, desc = change(raw, _desc(raw, mediatypes.OCI_MANIFEST))
    with pytest.raises(OciError, match=message):
        parse(bad_raw, desc, Blobs(), "test")


def test_no_manifest_larger_than_four_mib():
    big = _manifest({"pad": "x" * MAX_MANIFEST})
    with pytest.raises(OciError, match="more than the 4194304"):
        parse(big, _desc(big, mediatypes.OCI_MANIFEST), Blobs(), "test")
    fits = _manifest({"pad": "x" * (MAX_MANIFEST - 1000)})
    assert parse(fits, _desc(fits, mediatypes.OCI_MANIFEST), Blobs(), "test").raw == fits


def _read(data: bytes, descriptor: Descriptor, n: int = 3) -> bytes:
    reader, out = VerifiedReader(io.BytesIO(data), descriptor, "test"), b""
    while chunk := reader.read(n):
        out += chunk
    return out


@pytest.mark.parametrize("n", [1, 3, 1 << 20])
def test_a_blob_that_is_what_it_says_reads_whole(n):
    assert _read(LAYER, _desc(LAYER, mediatypes.OCI_LAYER_GZIP), n) == LAYER


@pytest.mark.parametrize("data,message", [
    (LAYER + b"!", "more bytes"),
    (LAYER[:-1], f"{len(LAYER) - 1} bytes"),
    (LAYER[:-1] + b"?", "expected sha256:"),
])
def test_a_blob_that_is_not_what_it_says_fails_while_it_streams(data, message):
    with pytest.raises(DigestMismatch, match=message):
        _read(data, _desc(LAYER, mediatypes.OCI_LAYER_GZIP))
