"""Layer: a compressed blob on disk with its digest, size and diff_id.

The tar is produced, hashed (diff_id), compressed, hashed again (digest) and
written to disk in one streaming pass; nothing is held whole in memory.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

import zstandard

from . import mediatypes
from .blob import Blob
from .descriptor import Descriptor
from .digest import Digest, HashingWriter
from .errors import OciError
from .tarfs import TarEntry, write_tar

COMPRESSIONS = {
    "gzip": mediatypes.OCI_LAYER_GZIP,
    "zstd": mediatypes.OCI_LAYER_ZSTD,
    "none": mediatypes.OCI_LAYER_TAR,
}
GZIP_LEVEL = 6
# zstd level 9 in a worker thread: on Go binaries 0.92-0.96x the gzip -6 size in 0.55-0.7x its
# time (level 3 was 1.00x; level 19 is 0.82-0.91x at 8-10x gzip's time). `scripts/bench` measures it.
# With one or more worker threads the output is the same bytes whatever their number, so the
# digest does not depend on the machine's CPU count (tested); it differs from threads=0.
ZSTD_LEVEL = 9
ZSTD_THREADS = 1
# Part of the no-change record's key: cached layer blobs made with other settings are not reused.
ENCODING = f"gzip-{GZIP_LEVEL};zstd-{ZSTD_LEVEL}-mt"


@dataclass(frozen=True)
class Layer:
    media_type: str
    digest: Digest
    size: int
    diff_id: Digest
    path: Path

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, self.size)

    @property
    def blob(self) -> Blob:
        return Blob(self.descriptor, path=self.path)

    def open(self) -> BinaryIO:
        return open(self.path, "rb")


class _Compressor:
    """Context manager giving a writer that compresses into `sink` (not closed)."""

    def __init__(self, compression: str, sink: BinaryIO):
        if compression not in COMPRESSIONS:
            raise OciError(f"unknown compression {compression!r}; choose from {sorted(COMPRESSIONS)}")
        self.compression, self.sink = compression, sink

    def __enter__(self) -> BinaryIO:
        self.writer: BinaryIO
        if self.compression == "gzip":
            # mtime=0 and an empty file name keep the gzip header fixed (the same bytes on every build).
            self.writer = cast(BinaryIO, gzip.GzipFile(filename="", mode="wb", fileobj=self.sink, mtime=0,
                                                        compresslevel=GZIP_LEVEL))
        elif self.compression == "zstd":
            self.writer = cast(BinaryIO, zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=ZSTD_THREADS).stream_writer(
                self.sink, closefd=False))
        else:
            self.writer = self.sink
        return self.writer

    def __exit__(self, *exc: object) -> None:
        if self.writer is not self.sink:
            self.writer.close()  # flushes the trailer; an error here must propagate


def build_layer(entries: Iterable[TarEntry], workdir: Path, *,
                compression: str = "gzip", mtime: int = 0) -> Layer:
    """Write a deterministic layer blob into workdir and return its Layer."""
    workdir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="layer-", suffix=".tmp", dir=workdir)
    try:
        with os.fdopen(fd, "wb") as raw:
            blob_hasher = HashingWriter(raw)
            with _Compressor(compression, cast(BinaryIO, blob_hasher)) as compressed:
                tar_hasher = HashingWriter(compressed)
                write_tar(cast(BinaryIO, tar_hasher), entries, mtime=mtime)
            raw.flush()
        final = workdir / f"{blob_hasher.digest.hex}.blob"
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Layer(COMPRESSIONS[compression], blob_hasher.digest, blob_hasher.size,
                 tar_hasher.digest, final)


DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def decompressed(raw: BinaryIO, media_type: str) -> BinaryIO:
    """A reader of the layer tar inside raw, by the layer's media type (gzip, zstd or plain tar)."""
    if media_type in (mediatypes.OCI_LAYER_GZIP, DOCKER_LAYER_GZIP):
        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb"))
    if media_type == mediatypes.OCI_LAYER_ZSTD:
        return cast(BinaryIO, zstandard.ZstdDecompressor().stream_reader(raw))
    if media_type == mediatypes.OCI_LAYER_TAR:
        return raw
    raise OciError(f"layer media type {media_type} is not one leango can read")
