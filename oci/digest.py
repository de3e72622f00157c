"""Digest values (OCI image-spec descriptor.md#digests) and one-pass hashing."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import BinaryIO

from .errors import DigestError

# image-spec descriptor.md: registered algorithms and their encodings. Only the
# lowercase hex form is accepted, so a digest can never smuggle "../" or an
# uppercase twin into a path or URL (a digest names one path and one URL).
_ENCODED = {"sha256": re.compile(r"[a-f0-9]{64}"), "sha512": re.compile(r"[a-f0-9]{128}")}
CHUNK = 1 << 20


@dataclass(frozen=True, order=True)
class Digest:
    algorithm: str
    hex: str

    def __post_init__(self) -> None:
        pattern = _ENCODED.get(self.algorithm)
        if pattern is None:
            raise DigestError(f"unsupported digest algorithm {self.algorithm!r}")
        if not pattern.fullmatch(self.hex):
            raise DigestError(f"malformed {self.algorithm} digest {self.hex!r}")

    @classmethod
    def parse(cls, text: str) -> Digest:
        algorithm, sep, encoded = str(text).partition(":")
        if not sep:
            raise DigestError(f"malformed digest {text!r}: expected ALGORITHM:HEX")
        return cls(algorithm, encoded)

    @classmethod
    def of_bytes(cls, data: bytes) -> Digest:
        return cls("sha256", hashlib.sha256(data).hexdigest())

    @classmethod
    def of_stream(cls, stream: BinaryIO) -> tuple[Digest, int]:
        """Hash a stream to its end in bounded memory; returns (digest, size)."""
        return copy_hashed(stream, None)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    def hasher(self) -> hashlib._Hash:
        return hashlib.new(self.algorithm)


EMPTY_SHA256 = Digest("sha256", hashlib.sha256(b"").hexdigest())


def copy_hashed(src: BinaryIO, dst: BinaryIO | None) -> tuple[Digest, int]:
    """Copy src to dst (if given) while hashing: one pass, CHUNK bytes at a time."""
    h = hashlib.sha256()
    size = 0
    while chunk := src.read(CHUNK):
        h.update(chunk)
        size += len(chunk)
        if dst is not None:
            dst.write(chunk)
    return Digest("sha256", h.hexdigest()), size


class HashingWriter:
    """A write-only file wrapper that hashes and counts what passes through it."""

    def __init__(self, inner: BinaryIO):
        self._inner = inner
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        self._inner.write(data)
        return len(data)

    def flush(self) -> None:
        self._inner.flush()

    @property
    def digest(self) -> Digest:
        return Digest("sha256", self._hash.hexdigest())
