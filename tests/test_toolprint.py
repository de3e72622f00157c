"""The toolchain's fingerprint: every file counts; the kept digest is reused only while the tree holds."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from leango.builder.toolprint import toolchain_digest


def _goroot(root: Path) -> Path:
    files = {"VERSION": "go1.99.0\n", "go.env": "GOPROXY=https://proxy.golang.org,direct\n",
             "bin/go": "\x7fELF go", "pkg/tool/linux_amd64/compile": "\x7fELF compile",
             "src/crypto/tls/conn.go": "package tls\n", "src/net/http/server.go": "package http\n"}
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _replace(path: Path, text: str) -> None:
    """As patch, git and package managers write: a new file renamed over the old one."""
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(text)
    os.replace(tmp, path)


def _edit_in_place(path: Path, text: str) -> None:
    with open(path, "r+") as f:
        f.write(text)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


CHANGES = {
    "a patched standard-library source": lambda g: _replace(g / "src/crypto/tls/conn.go", "package tls // fix\n"),
    "a new source file": lambda g: (g / "src/net/http/fix.go").write_text("package http\n"),
    "a deleted source file": lambda g: (g / "src/net/http/server.go").unlink(),
    "a replaced compiler": lambda g: _replace(g / "pkg/tool/linux_amd64/compile", "\x7fELF patched"),
    "a compiler edited in place": lambda g: _edit_in_place(g / "pkg/tool/linux_amd64/compile", "\x7fELF PATCH"),
    "an edited go.env": lambda g: _edit_in_place(g / "go.env", "GOPROXY=https://corp.example/,off\n"),
    "the go command": lambda g: _edit_in_place(g / "bin/go", "\x7fELF og"),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_every_change_to_what_the_compile_reads_changes_the_digest(tmp_path, change):
    goroot, cache = _goroot(tmp_path / "go"), tmp_path / "cache"
    first = toolchain_digest(goroot, cache)
    assert toolchain_digest(goroot, cache) == first  # untouched: the kept digest
    time.sleep(0.01)  # a directory mtime tick apart
    CHANGES[change](goroot)
    assert toolchain_digest(goroot, cache) != first


def test_the_kept_digest_is_reused_while_the_tree_holds(tmp_path, monkeypatch):
    from leango.builder import toolprint
    goroot, cache = _goroot(tmp_path / "go"), tmp_path / "cache"
    first = toolchain_digest(goroot, cache)
    scans = []
    monkeypatch.setattr(toolprint, "_scan", lambda root: scans.append(root) or {})
    assert toolchain_digest(goroot, cache) == first and scans == []
    assert [p.name.endswith(".json") for p in (cache / "toolchains").iterdir()] == [True]


def test_a_damaged_state_file_means_a_new_scan(tmp_path):
    goroot, cache = _goroot(tmp_path / "go"), tmp_path / "cache"
    first = toolchain_digest(goroot, cache)
    for state in (cache / "toolchains").iterdir():
        state.write_text('{"version": 2, "dirs": [], "watched": [], "digest": "forged"}')
    assert toolchain_digest(goroot, cache) == "forged"  # a state that holds is believed…
    for state in (cache / "toolchains").iterdir():
        state.write_text("{not json")
    assert toolchain_digest(goroot, cache) == first  # …one that cannot be read is not


def test_go_env_counts_by_its_content(tmp_path):
    goroot = _goroot(tmp_path / "go")
    first = toolchain_digest(goroot, tmp_path / "c1")
    env = goroot / "go.env"
    st = os.stat(env)
    env.write_text("GOPROXY=https://elsewhere.example,direct\n"[: st.st_size].ljust(st.st_size, "\n"))
    os.utime(env, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime: only the content differs
    assert toolchain_digest(goroot, tmp_path / "c2") != first
