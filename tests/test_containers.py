"""Removing the working containers of killed runs, with a recording runner: what is listed, what
is removed, what is left (other namespaces, other names), and failures that only log."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from leango.builder import containers
from leango.builder.buildah import Storage
from leango.builder.containers import remove_stale, run_scope, start_time
from leango.builder.runner import Result


class Recording:
    def __init__(self, listing: str = "", list_rc: int = 0, rm_rc: dict[str, int] | None = None, missing=False):
        self.calls: list[tuple[list[str], object]] = []
        self.listing, self.list_rc, self.rm_rc, self.missing = listing, list_rc, rm_rc or {}, missing

    def run(self, argv, *, env=None, cwd=None, timeout=None, own_session=False):
        self.calls.append((list(argv), env))
        if self.missing:
            raise FileNotFoundError("buildah")
        if "containers" in argv:
            return Result(tuple(argv), self.list_rc, self.listing, "cannot list" if self.list_rc else "")
        name = argv[-1]
        rc = self.rm_rc.get(name, 0)
        return Result(tuple(argv), rc, "", "busy" if rc else "")


@pytest.fixture
def storage(tmp_path):
    s = Storage.under(tmp_path)
    s.root.mkdir(parents=True)
    return s


def _name(pid: int, started: int) -> str:
    boot, pidns = run_scope()
    return f"leango-{boot}-{pidns}-{pid}-{started}-0123abcd"


def test_only_leangos_dead_runs_of_this_namespace_are_removed(storage, caplog):
    boot, pidns = run_scope()
    dead = _name(99999999, 5)
    recycled = _name(os.getpid(), 1)  # this pid, another start time: the run that made it is gone
    alive = _name(os.getpid(), start_time(os.getpid()))
    other_ns = f"leango-{boot}-{pidns + 1}-99999999-5-0123abcd"
    listing = "\n".join([dead, "mybuild", alive, other_ns, recycled]) + "\n"
    runner = Recording(listing)
    env = {"PATH": "/usr/bin"}
    with caplog.at_level(logging.INFO, logger="leango.builder.containers"):
        assert remove_stale(runner, storage, env) == [dead, recycled]
    assert runner.calls[0] == (storage.argv("containers", "--all", "--format", "{{.ContainerName}}"), env)
    assert runner.calls[1:] == [(storage.argv("rm", dead), env), (storage.argv("rm", recycled), env)]
    assert f"removed {dead}, left by a leango run that was killed" in caplog.messages


def test_a_failed_removal_is_a_warning_and_the_rest_go_on(storage, caplog):
    first, second = _name(99999998, 5), _name(99999999, 5)
    runner = Recording(f"{first} {second}", rm_rc={first: 1})
    with caplog.at_level(logging.INFO, logger="leango.builder.containers"):
        assert remove_stale(runner, storage) == [second]
    assert f"could not remove stale container {first}: busy" in caplog.messages


def test_nothing_is_run_without_storage_or_buildah(tmp_path, storage, caplog):
    runner = Recording(_name(99999999, 5))
    assert remove_stale(runner, Storage.under(tmp_path / "never-used")) == [] and runner.calls == []
    assert remove_stale(Recording(missing=True), storage) == []
    failing = Recording(_name(99999999, 5), list_rc=1)
    with caplog.at_level(logging.DEBUG, logger="leango.builder.containers"):
        assert remove_stale(failing, storage) == []
    assert len(failing.calls) == 1 and "cannot list buildah containers: cannot list" in caplog.messages


def test_start_time_is_field_22_after_the_command_name(tmp_path, monkeypatch):
    stat = "1234 (a) b) weird) S " + " ".join(str(n) for n in range(4, 60))
    real = containers.Path

    class FakePath(type(real())):
        def read_text(self):
            if str(self) == "/proc/1234/stat":
                return stat
            return real(self).read_text()
    monkeypatch.setattr(containers, "Path", FakePath)
    assert start_time(1234) == 22  # field 22, counting from the pid as 1
    assert start_time(99999999) is None


def test_run_scope_without_proc(monkeypatch):
    def missing(*a, **kw):
        raise OSError("no /proc")
    monkeypatch.setattr(containers.Path, "read_text", missing)
    monkeypatch.setattr(containers.os, "stat", missing)
    assert run_scope() == ("00000000", 0)
    assert containers.container_name(pid=99999999).startswith("leango-00000000-0-99999999-0-")


def test_remove_tree_takes_read_only_directories_files_and_links_but_not_their_targets(tmp_path):
    from leango.builder.containers import remove_tree
    tree = tmp_path / "mod"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "f.go").write_text("package b")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("kept")
    outside.chmod(0o700)
    (tree / "a" / "link").symlink_to(outside)
    for d in (tree / "a" / "b", tree / "a", tree):  # Go's module cache is read-only
        d.chmod(0o555)
    remove_tree(tree)
    assert not tree.exists()
    assert (outside / "keep").read_text() == "kept" and oct(outside.stat().st_mode & 0o777) == "0o700"
    # a file, and a link to a directory: each removed itself, the target kept
    single = tmp_path / "file"
    single.write_text("x")
    remove_tree(single)
    link = tmp_path / "link"
    link.symlink_to(outside)
    remove_tree(link)
    assert not single.exists() and not link.is_symlink() and (outside / "keep").exists()


def test_the_run_scope_is_this_boot_and_this_pid_namespace():
    boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert run_scope() == (boot_id.replace("-", "")[:8], os.stat("/proc/self/ns/pid").st_ino)
