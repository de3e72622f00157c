"""The Go cache store's lock: one file, opened without following symlinks, held with flock."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from .errors import BuildError

log = logging.getLogger(__name__)
LOCK_NAME = ".lock"


class Busy(BuildError):
    """Another leango process holds the lock and the caller would not wait."""


@contextlib.contextmanager
def store_lock(root: Path, *, wait: bool = True) -> Iterator[None]:
    """Hold root/.lock exclusively for the block. The file is opened with O_NOFOLLOW (a symlink
    planted there is refused, as the credential store's lock refuses one) and never deleted, so
    that every process locks the same file."""
    root.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise BuildError(f"cannot open the lock {root / LOCK_NAME}: {exc.strerror}",
                         "it must be a regular file, not a symlink") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise Busy(f"another leango process is using the Go build cache store {root}",
                           "try again when it has finished") from None
            log.info("waiting for another leango process using the Go build cache store %s", root)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
