import hashlib
import io

import pytest

from leango.oci.digest import EMPTY_SHA256, Digest, HashingWriter, copy_hashed
from leango.oci.errors import DigestError

HEX = "a" * 64


def test_parse_round_trips():
    d = Digest.parse(f"sha256:{HEX}")
    assert (d.algorithm, d.hex, str(d)) == ("sha256", HEX, f"sha256:{HEX}")


@pytest.mark.parametrize("bad", [
    f"sha256:{HEX.upper()}", "sha256:../../x", f"sha256:{HEX[:-1]}", f"sha256:{HEX}0",
    f"md5:{HEX}", HEX, "", f"sha256:{HEX[:-2]}/.",
])
def test_parse_rejects_malformed(bad):
    with pytest.raises(DigestError):
        Digest.parse(bad)


def test_of_bytes_and_stream_agree_with_hashlib():
    data = b"x" * (3 * 1024 * 1024 + 17)  # spans several copy chunks
    expected = hashlib.sha256(data).hexdigest()
    assert Digest.of_bytes(data).hex == expected
    out = io.BytesIO()
    digest, size = copy_hashed(io.BytesIO(data), out)
    assert (digest.hex, size, out.getvalue() == data) == (expected, len(data), True)


def test_empty_digest_constant():
    assert str(EMPTY_SHA256) == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_hashing_writer_counts_and_forwards():
    sink = io.BytesIO()
    w = HashingWriter(sink)
    w.write(b"abc")
    w.write(memoryview(b"def"))
    assert w.size == 6 and sink.getvalue() == b"abcdef"
    assert w.digest == Digest.of_bytes(b"abcdef")
