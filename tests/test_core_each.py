"""Digest, canonical JSON and index rules with exact messages.
Written against the survivors of scripts/mutation (docs/testing.md)."""

from __future__ import annotations

import hashlib
import io

import pytest

from leango.oci import Index, Platform
from leango.oci.canonical import canonical_json
from leango.oci.digest import CHUNK, EMPTY_SHA256, Digest, HashingWriter, copy_hashed
from leango.oci.errors import DigestError, OciError


def test_sha512_is_accepted():
    d = Digest.parse("sha512:" + "c" * 128)
    assert d.algorithm == "sha512" and d.hasher().name == "sha512"
    assert Digest.parse("sha256:" + "c" * 64).hasher().name == "sha256"


@pytest.mark.parametrize("text,message", [
    ("sha256", "malformed digest 'sha256': expected ALGORITHM:HEX"),
    ("md5:" + "a" * 32, "unsupported digest algorithm 'md5'"),
    ("sha256:" + "A" * 64, f"malformed sha256 digest {'A' * 64!r}"),
    ("sha256:" + "a" * 63, f"malformed sha256 digest {'a' * 63!r}"),
    ("sha512:" + "a" * 64, f"malformed sha512 digest {'a' * 64!r}"),
    ("sha256:" + "a" * 64 + "\n", f"malformed sha256 digest {'a' * 64 + chr(10)!r}"),
])
def test_digest_refusals(text, message):
    with pytest.raises(DigestError) as err:
        Digest.parse(text)
    assert str(err.value) == message


def test_empty_digest_and_of_bytes():
    assert str(EMPTY_SHA256) == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert Digest.of_bytes(b"") == EMPTY_SHA256


def test_copy_hashed_over_chunk_boundaries():
    data = b"x" * (CHUNK * 2 + 3)
    dst = io.BytesIO()
    digest, size = copy_hashed(io.BytesIO(data), dst)
    assert (digest, size, dst.getvalue()) == (Digest.of_bytes(data), len(data), data)
    assert Digest.of_stream(io.BytesIO(data)) == (Digest.of_bytes(data), len(data))
    assert CHUNK == 1 << 20


def test_hashing_writer():
    inner = io.BytesIO()
    w = HashingWriter(inner)
    assert w.write(b"ab") == 2 and w.write(b"c") == 1
    w.flush()
    assert (w.size, w.digest, inner.getvalue()) == (3, Digest("sha256", hashlib.sha256(b"abc").hexdigest()), b"abc")


def test_canonical_json_exact_bytes():
    assert canonical_json({"b": [1, 2], "a": "é", "c": {"z": None, "y": True}}) == \
        '{"a":"é","b":[1,2],"c":{"y":true,"z":null}}'.encode()
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_index_needs_a_manifest():
    with pytest.raises(OciError) as err:
        Index(())
    assert str(err.value) == "an index needs at least one manifest"


def test_index_refuses_the_same_manifest_twice(make_image):
    img = make_image("a")
    with pytest.raises(OciError) as err:
        Index((img, img))
    assert str(err.value) == "an index lists the same manifest twice"


def test_index_refuses_duplicate_platforms(make_image):
    a = make_image("a")
    b = make_image("b")
    with pytest.raises(OciError) as err:
        Index((a, b))
    assert str(err.value) == "duplicate platforms in index: ['linux/amd64', 'linux/amd64']"
    c = make_image("c", platform=Platform("linux", "arm64"))
    assert len(Index((a, c)).manifests) == 2
