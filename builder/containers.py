"""Names for leango's working containers, and removal of those whose leango process is gone.

A CI job killed with SIGKILL cannot run its `finally`: its container stays. Each
container is named `leango-<boot>-<pidns>-<pid>-<start time>-<random>`; the next run
(or `leango prune`) removes the containers whose process no longer exists, and never
touches one whose name leango did not make. The start time guards against a recycled
pid; the boot id and the PID namespace against runs that share the storage but not the
process table (two CI job containers on one host see each other's processes as gone):
a container of another namespace or boot is never proven stale, so it is left alone.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from .locks import LOCK_NAME, store_lock
from .runner import Runner

if TYPE_CHECKING:
    from .buildah import Storage

log = logging.getLogger(__name__)
_NAME = re.compile(r"leango-([0-9a-f]{8})-(\d+)-(\d+)-(\d+)-[0-9a-f]{8}")


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (proc(5) stat field 22), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def run_scope() -> tuple[str, int]:
    """This boot (the first 8 hex digits of its id) and this PID namespace (its inode): where a
    pid means this process table's process."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")[:8]
    except OSError:
        boot = "00000000"
    try:
        pidns = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        pidns = 0
    return boot, pidns


def container_name(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    boot, pidns = run_scope()
    return f"leango-{boot}-{pidns}-{pid}-{start_time(pid) or 0}-{secrets.token_hex(4)}"


def is_stale(name: str) -> bool:
    """True for a leango container of this boot and PID namespace whose process is gone; False
    for any other name, and for another namespace's or boot's containers (nothing proves them gone)."""
    match = _NAME.fullmatch(name)
    if match is None or (match.group(1), int(match.group(2))) != run_scope():
        return False
    pid, started = int(match.group(3)), int(match.group(4))
    return start_time(pid) != started


def remove_stale(runner: Runner, storage: Storage, env: dict[str, str] | None = None) -> list[str]:
    """Remove leango's containers left by killed runs; return their names. Failures only log."""
    if not storage.root.is_dir():
        return []  # no container was ever made there: no buildah to start
    try:
        res = runner.run(storage.argv("containers", "--all", "--format", "{{.ContainerName}}"), env=env)
    except FileNotFoundError:
        return []
    if not res.ok:
        log.debug("cannot list buildah containers: %s", res.stderr.strip())
        return []
    removed = []
    for name in res.stdout.split():
        if is_stale(name):
            rm = runner.run(storage.argv("rm", name), env=env)
            if rm.ok:
                removed.append(name)
                log.info("removed %s, left by a leango run that was killed", name)
            else:
                log.warning("could not remove stale container %s: %s", name, rm.stderr.strip())
    return removed


def empty_caches(cache_dir: Path) -> list[Path]:
    """Remove leango's caches under cache_dir (Go build and module caches, the chunks of the
    registry-shared build cache, layer blobs and build records, work files).

    The module cache is read-only by design (as `go clean -modcache` knows): directories
    are made writable on the way. Only leango's own entries are touched."""
    removed = []
    # The store first: while a build holds its lock, nothing is removed (nor the caches it is using).
    for name in ("gocache", "go", "layers", "records", "work"):
        path = cache_dir / name
        if path.is_symlink() or not path.exists():
            continue
        if name == "gocache":
            # Under the store's lock (refused while a build holds it), which stays: a run waiting
            # on it must lock the same file as the next one.
            with store_lock(path, wait=False):
                for entry in path.iterdir():
                    if entry.name != LOCK_NAME:
                        remove_tree(entry)
        else:
            remove_tree(path)
        removed.append(path)
    return removed


def remove_tree(path: Path) -> None:
    """path and everything under it, read-only directories (Go's module cache) included."""
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return
    for root, dirs, _files in os.walk(path):
        for d in dirs:
            full = Path(root) / d
            if not full.is_symlink():
                full.chmod(0o755)
    shutil.rmtree(path)
