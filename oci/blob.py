"""Blob: a descriptor plus a re-openable source of its bytes (memory or a file)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .descriptor import Descriptor
from .digest import Digest


@dataclass(frozen=True)
class Blob:
    descriptor: Descriptor
    data: bytes | None = None
    path: Path | None = None

    def __post_init__(self) -> None:
        if (self.data is None) == (self.path is None):
            raise ValueError("a Blob needs exactly one of data or path")

    def open(self) -> BinaryIO:
        """A fresh reader from byte 0; the caller closes it."""
        if self.data is not None:
            return io.BytesIO(self.data)
        assert self.path is not None  # __post_init__: exactly one of data or path
        return open(self.path, "rb")

    @property
    def digest(self) -> Digest:
        return self.descriptor.digest

    @property
    def size(self) -> int:
        return self.descriptor.size
