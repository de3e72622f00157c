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


class _Counting(io.BytesIO):
    """Records the size of every read asked of it."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.asked: list[int] = []

    def read(self, n=-1):
        self.asked.append(n)
        return super().read(n)


def test_the_reader_asks_for_at_most_one_byte_past_the_blob():
    desc = _desc(LAYER, mediatypes.OCI_LAYER_GZIP)
    inner = _Counting(LAYER + b"tail")
    reader = VerifiedReader(inner, desc, "test")
    with pytest.raises(DigestMismatch) as info:
        reader.read()  # all of it: the size plus one byte, which proves it too long
    assert inner.asked == [len(LAYER) + 1]
    assert str(info.value) == f"blob {desc.digest} in test: expected {len(LAYER)} bytes, got more bytes"
    inner = _Counting(LAYER)
    reader = VerifiedReader(inner, desc, "test")
    assert reader.read(4) == LAYER[:4] and inner.asked == [4]
    assert reader.read(0) == b"" and reader.read() == LAYER[4:]
    assert inner.asked[-2] == len(LAYER) - 4 + 1


def test_the_messages_name_the_blob_and_both_sides():
    desc = _desc(LAYER, mediatypes.OCI_LAYER_GZIP)
    short = VerifiedReader(io.BytesIO(LAYER[:-1]), desc, "oci:/x")
    short.read()
    with pytest.raises(DigestMismatch) as info:
        short.read()
    assert str(info.value) == f"blob {desc.digest} in oci:/x: expected {len(LAYER)} bytes, got {len(LAYER) - 1} bytes"
    wrong = LAYER[:-1] + b"?"
    with pytest.raises(DigestMismatch) as info:
        VerifiedReader(io.BytesIO(wrong), desc, "oci:/x").read()
    assert str(info.value) == f"blob {desc.digest} in oci:/x: expected {desc.digest}, got {Digest.of_bytes(wrong)}"
    # Exactly the size, then more behind it (a read that stopped at the size): also too long.
    with pytest.raises(DigestMismatch) as info:
        VerifiedReader(io.BytesIO(LAYER + b"!"), desc, "oci:/x").read(len(LAYER))
    assert str(info.value) == f"blob {desc.digest} in oci:/x: expected {len(LAYER)} bytes, got more bytes"


def test_a_verified_blob_reads_to_its_end_once_checked():
    desc = _desc(LAYER, mediatypes.OCI_LAYER_GZIP)
    inner = _Counting(LAYER)
    reader = VerifiedReader(inner, desc, "test")
    assert reader.read(len(LAYER)) == LAYER
    asked = len(inner.asked)
    assert reader.read() == b"" and reader.read() == b""  # checked once: no probe for more each time
    assert len(inner.asked) == asked + 2


def test_only_sha256_blobs_are_read_and_the_source_is_closed():
    inner = io.BytesIO(b"x")
    desc = Descriptor(mediatypes.OCI_LAYER_GZIP, Digest.parse("sha512:" + "a" * 128), 1)
    with pytest.raises(OciError) as info:
        VerifiedReader(inner, desc, "test")
    assert str(info.value) == f"cannot verify a sha512 blob ({desc.digest})" and inner.closed


def test_document_refusals_say_exactly_what():
    raw = _manifest()
    desc = _desc(raw, mediatypes.OCI_MANIFEST)
    where = "docker://r/x"
    with pytest.raises(DigestMismatch) as info:
        parse(raw + b" ", desc, Blobs(), where)
    assert str(info.value) == f"manifest {desc.digest} in {where}: expected {len(raw)} bytes, got {len(raw) + 1} bytes"
    other = raw.replace(b'"layers"', b'"Layers"')
    with pytest.raises(DigestMismatch) as info:
        parse(other, Descriptor(desc.media_type, desc.digest, len(other)), Blobs(), where)
    assert str(info.value) == f"manifest in {where}: expected {desc.digest}, got {Digest.of_bytes(other)}"
    with pytest.raises(OciError) as info:
        parse(raw, Descriptor(mediatypes.OCI_INDEX, desc.digest, desc.size), Blobs(), where)
    assert str(info.value) == (f"manifest {desc.digest} in {where} says it is {mediatypes.OCI_MANIFEST}, "
                               f"its descriptor says {mediatypes.OCI_INDEX}")


def test_a_manifest_of_exactly_four_mib_is_read():
    head = _manifest({"pad": ""})
    exact = _manifest({"pad": "x" * (MAX_MANIFEST - len(head))})
    assert len(exact) == MAX_MANIFEST
    assert parse(exact, _desc(exact, mediatypes.OCI_MANIFEST), Blobs(), "test").raw == exact


def test_without_a_media_type_the_descriptor_says_what_it_is():
    raw = _manifest(media_type=None)
    image = parse(raw, _desc(raw, mediatypes.OCI_MANIFEST), Blobs(CONFIG, LAYER), "test")
    assert isinstance(image, ParsedImage) and image.descriptor == _desc(raw, mediatypes.OCI_MANIFEST)
    index_raw = json.dumps({"schemaVersion": 2, "manifests": [_desc(raw, mediatypes.OCI_MANIFEST).to_json()]}).encode()
    index = parse(index_raw, _desc(index_raw, mediatypes.OCI_INDEX), Blobs(raw), "where")
    assert isinstance(index, ParsedIndex) and index.descriptor.digest == Digest.of_bytes(index_raw)
    assert index.where == "where"


def test_what_each_parsed_kind_holds():
    raw = _manifest()
    blobs = Blobs(CONFIG, LAYER)
    image = parse(raw, _desc(raw, mediatypes.OCI_MANIFEST), blobs, "where")
    assert list(image.child_manifests()) == [] and image.images() == (image,)
    art_raw = _manifest({"artifactType": "application/spdx+json"})
    art = parse(art_raw, _desc(art_raw, mediatypes.OCI_MANIFEST), blobs, "where")
    assert [b.open().read() for b in art.blobs()] == [LAYER, CONFIG]  # layers, then the config
    assert [b.digest for b in art.blobs()] == [Digest.of_bytes(LAYER), Digest.of_bytes(CONFIG)]
    assert list(art.child_manifests()) == [] and art.images() == ()
    other_config = b'{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    raw2 = json.dumps({"schemaVersion": 2, "mediaType": mediatypes.OCI_MANIFEST,
                       "config": _desc(other_config, mediatypes.OCI_CONFIG).to_json(),
                       "layers": [_desc(LAYER, mediatypes.OCI_LAYER_GZIP).to_json()]}).encode()
    index_raw = json.dumps({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": [
        _desc(raw, mediatypes.OCI_MANIFEST).to_json(), _desc(raw2, mediatypes.OCI_MANIFEST).to_json()]}).encode()
    index = parse(index_raw, _desc(index_raw, mediatypes.OCI_INDEX), Blobs(raw, raw2, CONFIG, other_config, LAYER),
                  "where")
    assert [i.digest for i in index.images()] == [Digest.of_bytes(raw), Digest.of_bytes(raw2)]
    # Each blob once (the shared layer), children's roots after their content.
    assert [b.digest for b in index.blobs()] == [Digest.of_bytes(LAYER), Digest.of_bytes(CONFIG),
                                                 Digest.of_bytes(other_config)]
    assert [b.data for b in index.child_manifests()] == [raw, raw2]


def test_every_field_of_a_parsed_manifest_is_kept():
    subject = _desc(b"the subject", mediatypes.OCI_MANIFEST)
    raw = _manifest({"subject": subject.to_json()})
    blobs = Blobs(CONFIG, LAYER)
    image = parse(raw, _desc(raw, mediatypes.OCI_MANIFEST), blobs, "oci:/l")
    assert image.subject == subject and image.where == "oci:/l" and image.source is blobs
    assert image.config_descriptor == _desc(CONFIG, mediatypes.OCI_CONFIG)
    assert image.layer_descriptors == (_desc(LAYER, mediatypes.OCI_LAYER_GZIP),)
    art_raw = _manifest({"artifactType": "application/spdx+json", "subject": subject.to_json()})
    art = parse(art_raw, _desc(art_raw, mediatypes.OCI_MANIFEST), blobs, "oci:/l")
    assert art.subject == subject and art.where == "oci:/l" and art.source is blobs
    assert art.config_descriptor == _desc(CONFIG, mediatypes.OCI_CONFIG)
    assert art.layer_descriptors == (_desc(LAYER, mediatypes.OCI_LAYER_GZIP),)
    plain = parse(_manifest(), _desc(_manifest(), mediatypes.OCI_MANIFEST), blobs, "x")
    assert plain.subject is None
    index_raw = json.dumps({"schemaVersion": 2, "manifests": []}).encode()
    index = parse(index_raw, _desc(index_raw, mediatypes.OCI_INDEX), blobs, "x")
    assert index.raw == index_raw


def test_malformed_and_unknown_documents_are_said_exactly():
    raw = json.dumps({"schemaVersion": 2, "mediaType": mediatypes.OCI_MANIFEST, "layers": []}).encode()
    desc = _desc(raw, mediatypes.OCI_MANIFEST)
    with pytest.raises(OciError) as info:
        parse(raw, desc, Blobs(), "w")
    assert str(info.value) == f"manifest {desc.digest} in w is malformed: 'config'"
    odd = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.odd"}).encode()
    odd_desc = _desc(odd, "application/vnd.odd")
    with pytest.raises(OciError) as info:
        parse(odd, odd_desc, Blobs(), "w")
    assert str(info.value) == (f"manifest {odd_desc.digest} in w has media type 'application/vnd.odd', "
                               "neither a manifest nor an index")


def test_a_damaged_blob_of_any_parsed_kind_names_where_it_was_read():
    from leango.oci.parsed import load
    damaged = Blobs(CONFIG, LAYER)
    damaged.blobs[Digest.of_bytes(LAYER)] = b"layer bytez"  # same length, other bytes
    damaged.blobs[Digest.of_bytes(CONFIG)] = CONFIG.replace(b"amd64", b"arm64")
    raw = _manifest()
    art_raw = _manifest({"artifactType": "application/spdx+json"})
    damaged.blobs.update({Digest.of_bytes(raw): raw, Digest.of_bytes(art_raw): art_raw})
    for manifest in (raw, art_raw):
        parsed = load(damaged, _desc(manifest, mediatypes.OCI_MANIFEST), "oci:/l:v1")
        assert parsed.where == "oci:/l:v1"
        for b in parsed.blobs():  # each layer and the config
            with pytest.raises(DigestMismatch) as info:
                b.open().read()
            assert str(info.value).startswith(f"blob {b.digest} in oci:/l:v1: expected {b.digest}, got sha256:")
