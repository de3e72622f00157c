"""Write-to-temp-then-rename helpers: a reader never sees a half-written file, and a failed
write leaves nothing behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_writer(dest: Path, mode: int = 0o644) -> Iterator[BinaryIO]:
    """Yield a file in dest's directory; on success fsync and rename it to dest.

    On any failure the temporary file is removed and dest is left untouched.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode & ~_umask())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_bytes_atomic(dest: Path, data: bytes) -> None:
    with atomic_writer(dest) as out:
        out.write(data)
