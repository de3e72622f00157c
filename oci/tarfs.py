"""Deterministic tar writer: the same entries give the same bytes on any machine.

Entries are sorted by path, parents are added, ownership and mtime are fixed,
names are plain USTAR (no PAX headers, so no atime/ctime/fractional mtime),
and unsafe paths or modes are refused before a byte is written.
"""

from __future__ import annotations

import io
import posixpath
import stat
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import BinaryIO

from .errors import TarError

DIR, FILE, SYMLINK = "dir", "file", "symlink"
MAX_MTIME = 8**11 - 1  # eleven octal digits: 2242-03-16, the last second a USTAR header holds
# setuid/setgid are refused; the sticky bit is allowed only with world-write
# on a directory (/tmp is 1777 by convention and by the request).
_FORBIDDEN_BITS = stat.S_ISUID | stat.S_ISGID


@dataclass(frozen=True)
class TarEntry:
    path: str
    kind: str = FILE
    mode: int = 0o644
    size: int = 0
    opener: Callable[[], BinaryIO] | None = None
    linkname: str = ""
    uid: int = 0
    gid: int = 0


def bytes_entry(path: str, data: bytes, mode: int = 0o644) -> TarEntry:
    """A regular file whose content is held in memory (small files: configs, passwd…)."""
    return TarEntry(path, FILE, mode, len(data), lambda: io.BytesIO(data))


def normalise_path(path: str) -> str:
    """Return a clean relative path or raise TarError naming the entry."""
    if not path or path.startswith("/") or "\\" in path or "\0" in path:
        raise TarError(f"unsafe tar entry name {path!r}: must be relative")
    parts = path.rstrip("/").split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise TarError(f"unsafe tar entry name {path!r}: empty, '.' or '..' component")
        if part.startswith(".wh."):
            raise TarError(f"unsafe tar entry name {path!r}: whiteout names are reserved")
    return "/".join(parts)


def _check_mode(entry: TarEntry) -> None:
    if entry.mode & ~0o7777:
        raise TarError(f"{entry.path}: mode {entry.mode:o} has bits beyond 7777")
    if entry.mode & _FORBIDDEN_BITS:
        raise TarError(f"{entry.path}: setuid/setgid bits are not allowed")
    if entry.kind != DIR and entry.mode & (stat.S_IWOTH | stat.S_ISVTX):
        raise TarError(f"{entry.path}: world-writable or sticky files are not allowed")
    if entry.kind == DIR and bool(entry.mode & stat.S_ISVTX) != bool(entry.mode & stat.S_IWOTH):
        # A world-writable directory needs the sticky bit (/tmp is 1777), and the sticky bit
        # means nothing without world-write: any other combination is a mistake.
        raise TarError(f"{entry.path}: a directory is sticky exactly when it is world-writable "
                       f"(1777), not {entry.mode:o}")


def prepare(entries: Iterable[TarEntry]) -> list[TarEntry]:
    """Normalise, validate, add missing parent dirs, and sort."""
    by_path: dict[str, TarEntry] = {}
    for entry in entries:
        entry = replace(entry, path=normalise_path(entry.path))
        if entry.kind not in (DIR, FILE, SYMLINK):
            raise TarError(f"{entry.path}: unsupported entry kind {entry.kind!r}")
        _check_mode(entry)
        if entry.path in by_path:
            raise TarError(f"duplicate tar entry {entry.path!r}")
        by_path[entry.path] = entry
    for path in list(by_path):
        parent = posixpath.dirname(path)
        while parent and parent not in by_path:
            by_path[parent] = TarEntry(parent, DIR, 0o755)
            parent = posixpath.dirname(parent)
    for path in by_path:
        parent = posixpath.dirname(path)
        if parent and by_path[parent].kind != DIR:
            raise TarError(f"{path!r}: parent {parent!r} is not a directory")
    return [by_path[p] for p in sorted(by_path)]


def _tarinfo(entry: TarEntry, mtime: int) -> tarfile.TarInfo:
    name = entry.path + "/" if entry.kind == DIR else entry.path
    info = tarfile.TarInfo(name)
    info.mode = entry.mode
    info.uid, info.gid = entry.uid, entry.gid
    info.uname = info.gname = ""
    info.mtime = mtime
    if entry.kind == DIR:
        info.type = tarfile.DIRTYPE
    elif entry.kind == SYMLINK:
        info.type, info.linkname = tarfile.SYMTYPE, entry.linkname
    else:
        info.type, info.size = tarfile.REGTYPE, entry.size
    return info


def write_tar(out: BinaryIO, entries: Iterable[TarEntry], mtime: int = 0) -> None:
    """Stream a deterministic tar of entries to out (which is not closed)."""
    if not 0 <= mtime <= MAX_MTIME:
        raise TarError(f"mtime must be between 0 and {MAX_MTIME} (what a USTAR header holds), got {mtime}")
    prepared = prepare(entries)
    try:
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.USTAR_FORMAT) as tar:
            for entry in prepared:
                info = _tarinfo(entry, mtime)
                if entry.kind == FILE and entry.opener is not None:
                    with entry.opener() as src:
                        tar.addfile(info, src)
                else:
                    tar.addfile(info)
    except ValueError as exc:  # e.g. a name too long for USTAR
        raise TarError(str(exc)) from exc
