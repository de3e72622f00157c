import gzip
import hashlib
import io
import os

import pytest
import zstandard

from leango.oci import mediatypes
from leango.oci.layer import build_layer
from leango.oci.tarfs import FILE, TarEntry, bytes_entry


def _entries():
    data = os.urandom(0) + b"hello\n" * 1000
    return [bytes_entry("etc/hello", data)]


def test_gzip_layer_digests_are_rederivable(tmp_path):
    layer = build_layer(_entries(), tmp_path, compression="gzip", mtime=7)
    blob = layer.path.read_bytes()
    assert layer.media_type == mediatypes.OCI_LAYER_GZIP
    assert layer.digest.hex == hashlib.sha256(blob).hexdigest() and layer.size == len(blob)
    assert layer.diff_id.hex == hashlib.sha256(gzip.decompress(blob)).hexdigest()


def test_gzip_header_has_no_name_and_zero_mtime(tmp_path):
    blob = build_layer(_entries(), tmp_path).path.read_bytes()
    flags, mtime = blob[3], int.from_bytes(blob[4:8], "little")
    assert blob[:2] == b"\x1f\x8b"
    assert flags & 0x08 == 0, "FNAME set"
    assert mtime == 0


def test_zstd_layer(tmp_path):
    layer = build_layer(_entries(), tmp_path, compression="zstd")
    blob = layer.path.read_bytes()
    assert layer.media_type == mediatypes.OCI_LAYER_ZSTD
    raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob)).read()
    assert layer.diff_id.hex == hashlib.sha256(raw).hexdigest()


def test_deterministic_across_directories_and_umask(tmp_path):
    a = build_layer(_entries(), tmp_path / "a")
    old = os.umask(0o077)
    try:
        b = build_layer(_entries(), tmp_path / "b")
    finally:
        os.umask(old)
    assert (a.digest, a.diff_id, a.size) == (b.digest, b.diff_id, b.size)


def test_failure_leaves_no_partial_blob(tmp_path):
    def broken():
        raise OSError("disk on fire")
    with pytest.raises(OSError):
        build_layer([TarEntry("x", FILE, 0o644, 3, broken)], tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_layer_of_a_type_leango_cannot_read_is_said():
    import io

    from leango.oci.errors import OciError
    from leango.oci.layer import decompressed
    with pytest.raises(OciError) as info:
        decompressed(io.BytesIO(b""), "application/vnd.oci.image.layer.v1.tar+bzip2")
    assert str(info.value) == "layer media type application/vnd.oci.image.layer.v1.tar+bzip2 is not one leango can read"
    raw = io.BytesIO(b"a plain tar")
    assert decompressed(raw, "application/vnd.oci.image.layer.v1.tar") is raw  # read as it is
