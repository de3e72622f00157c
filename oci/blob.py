"""Blob: a descriptor plus a re-openable source of its bytes (memory, a file, or an opener:
a Source's lazy, verified read)."""

from __future__ import annotations

import io
from collections.abc import Callable
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
    opener: Callable[[], BinaryIO] | None = None

    def __post_init__(self) -> None:
        if sum(x is not None for x in (self.data, self.path, self.opener)) != 1:
            raise ValueError("a Blob needs exactly one of data, path or opener")

    def open(self) -> BinaryIO:
        """A fresh reader from byte 0; the caller closes it."""
        if self.data is not None:
            return io.BytesIO(self.data)
        if self.opener is not None:
            return self.opener()
        assert self.path is not None  # __post_init__: exactly one source
        return open(self.path, "rb")

    @property
    def digest(self) -> Digest:
        return self.descriptor.digest

    @property
    def size(self) -> int:
        return self.descriptor.size
