"""Layer compression settings and the image config document, field by field.
Written against the survivors of scripts/mutation (docs/testing.md)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os

import pytest
import zstandard

from leango.oci import mediatypes
from leango.oci.config import History, ImageConfig, rfc3339
from leango.oci.descriptor import Platform
from leango.oci.digest import Digest
from leango.oci.errors import OciError
from leango.oci.layer import build_layer
from leango.oci.tarfs import bytes_entry, write_tar

ENTRIES = [bytes_entry("etc/motd", b"hello " * 2000)]


def _tar() -> bytes:
    out = io.BytesIO()
    write_tar(out, ENTRIES, mtime=0)
    return out.getvalue()


@pytest.mark.parametrize("compression,media_type", [
    ("gzip", mediatypes.OCI_LAYER_GZIP), ("zstd", mediatypes.OCI_LAYER_ZSTD), ("none", mediatypes.OCI_LAYER_TAR),
])
def test_layer_fields(tmp_path, compression, media_type):
    layer = build_layer(ENTRIES, tmp_path, compression=compression)
    data = layer.path.read_bytes()
    assert layer.media_type == media_type
    assert layer.digest == Digest.parse("sha256:" + hashlib.sha256(data).hexdigest())
    assert layer.size == len(data) and layer.path == tmp_path / f"{layer.digest.hex}.blob"
    assert layer.diff_id == Digest.parse("sha256:" + hashlib.sha256(_tar()).hexdigest())
    assert layer.descriptor.to_json() == {"mediaType": media_type, "digest": str(layer.digest), "size": len(data)}
    with layer.open() as src:
        assert src.read() == data
    assert sorted(os.listdir(tmp_path)) == [layer.path.name]


def test_uncompressed_layer_is_the_tar(tmp_path):
    assert build_layer(ENTRIES, tmp_path, compression="none").path.read_bytes() == _tar()


def test_gzip_level_and_header(tmp_path):
    data = build_layer(ENTRIES, tmp_path, compression="gzip").path.read_bytes()
    # magic, deflate, no flags (no name), mtime 0, XFL 0 (= level 2..8), OS 255 (unknown)
    assert data[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    assert gzip.decompress(data) == _tar()
    assert data[10:] == gzip.compress(_tar(), compresslevel=6, mtime=0)[10:]  # the same deflate stream as level 6


def _zstd(level, threads, data=None):
    out = io.BytesIO()
    with zstandard.ZstdCompressor(level=level, threads=threads).stream_writer(out, closefd=False) as w:
        w.write(_tar() if data is None else data)
    return out.getvalue()


def test_zstd_level(tmp_path):
    data = build_layer(ENTRIES, tmp_path, compression="zstd").path.read_bytes()
    assert zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read() == _tar()
    assert data == _zstd(9, 1)


def test_zstd_output_does_not_depend_on_the_thread_count(goroot):
    """Why a worker thread is safe for reproducible digests: 1, 2 or 8 workers write the same bytes,
    on an input (the go command, gofmt) larger than one zstd job, so the workers really split it."""
    data = (goroot / "bin" / "go").read_bytes() + (goroot / "bin" / "gofmt").read_bytes()
    assert len(data) > 12 << 20
    one = _zstd(9, 1, data)
    assert _zstd(9, 2, data) == one == _zstd(9, 8, data)
    assert _zstd(9, 0, data) != one  # single-threaded mode is another encoding: the choice is pinned


def test_unknown_compression(tmp_path):
    with pytest.raises(OciError) as err:
        build_layer(ENTRIES, tmp_path, compression="lz4")
    assert str(err.value) == "unknown compression 'lz4'; choose from ['gzip', 'none', 'zstd']"
    assert os.listdir(tmp_path) == []


def test_workdir_is_created(tmp_path):
    layer = build_layer(ENTRIES, tmp_path / "a" / "b")
    assert layer.path.parent == tmp_path / "a" / "b"


def test_mtime_reaches_the_tar(tmp_path):
    a = build_layer(ENTRIES, tmp_path / "a", compression="none", mtime=0)
    b = build_layer(ENTRIES, tmp_path / "b", compression="none", mtime=1700000000)
    assert a.diff_id != b.diff_id


# -- the config document -----------------------------------------------------------------------

D1, D2 = Digest.parse("sha256:" + "1" * 64), Digest.parse("sha256:" + "2" * 64)


@pytest.mark.parametrize("epoch,text", [(0, "1970-01-01T00:00:00Z"), (1700000000, "2023-11-14T22:13:20Z"),
                                        (86399, "1970-01-01T23:59:59Z")])
def test_rfc3339(epoch, text):
    assert rfc3339(epoch) == text


def test_full_config():
    config = ImageConfig(
        platform=Platform("linux", "arm", "v7"), diff_ids=(D1, D2),
        history=(History("leango base", comment="ca bundle"), History("ENV", empty_layer=True)),
        entrypoint=("/app",), cmd=("--x",), env=("A=1",), user="65532:65532", working_dir="/w",
        labels=(("k", "v"),), created=1700000000)
    when = "2023-11-14T22:13:20Z"
    assert config.to_json() == {
        "architecture": "arm", "os": "linux", "variant": "v7", "created": when,
        "config": {"Entrypoint": ["/app"], "Cmd": ["--x"], "Env": ["A=1"], "User": "65532:65532",
                   "WorkingDir": "/w", "Labels": {"k": "v"}},
        "rootfs": {"type": "layers", "diff_ids": [str(D1), str(D2)]},
        "history": [{"created": when, "created_by": "leango base", "comment": "ca bundle"},
                    {"created": when, "created_by": "ENV", "empty_layer": True}],
    }


def test_minimal_config_omits_empty_fields():
    config = ImageConfig(platform=Platform("linux", "amd64"), diff_ids=(), history=(History("x"),))
    assert config.to_json() == {
        "architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z", "config": {},
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "x"}],
    }
    assert config.to_bytes() == (b'{"architecture":"amd64","config":{},"created":"1970-01-01T00:00:00Z",'
                                 b'"history":[{"created":"1970-01-01T00:00:00Z","created_by":"x"}],"os":"linux",'
                                 b'"rootfs":{"diff_ids":[],"type":"layers"}}')
