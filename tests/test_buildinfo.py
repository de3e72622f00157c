"""Go build information read from a binary's bytes: the header, the inline strings, the module
lines (with replacements) and quoted settings, and every way it can be missing or cut short."""

from __future__ import annotations

from pathlib import Path

import pytest

from leango.builder import buildinfo
from leango.builder.buildinfo import BuildInfoError, Module, parse_modinfo

MODINFO = "\n".join([
    "path\texample.com/app/cmd/api",
    "mod\texample.com/app\t(devel)\t",
    "dep\tgithub.com/google/uuid\tv1.6.0\th1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=",
    "dep\texample.com/lib\tv1.0.0",
    "=>\t../lib\t(devel)\t",
    "dep\texample.com/forked\tv1.2.0\th1:aaaa",
    "=>\texample.com/fork\tv1.2.1\th1:bbbb",
    'build\t-ldflags="-X main.version=1.0 -s"',
    "build\tGOOS=linux",
    "build\tCGO_ENABLED=0",
]) + "\n"


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _binary(version: str, modinfo: str, flags: int = 2, pad: int = 48) -> bytes:
    sentinel = b"0123456789abcdef"
    info = sentinel + modinfo.encode() + sentinel
    header = buildinfo.MAGIC + bytes([8, flags]) + bytes(16)
    return b"\0" * pad + header + _uvarint(len(version)) + version.encode() + _uvarint(len(info)) + info


def test_module_lines_with_replacements_and_quoted_settings():
    info = parse_modinfo("go1.27.3", MODINFO)
    assert info.path == "example.com/app/cmd/api" and info.main == Module("example.com/app", "(devel)", "")
    assert info.deps[0] == Module("github.com/google/uuid", "v1.6.0",
                                  "h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=")
    assert info.deps[1].replace == Module("../lib", "(devel)", "") and info.deps[1].effective.path == "../lib"
    assert info.deps[2].effective == Module("example.com/fork", "v1.2.1", "h1:bbbb")
    assert info.setting("-ldflags") == "-X main.version=1.0 -s" and info.setting("GOOS") == "linux"
    assert info.setting("missing") == ""


def test_read_from_bytes_at_an_aligned_header(tmp_path):
    path = tmp_path / "bin"
    path.write_bytes(_binary("go1.27.3", MODINFO))
    info = buildinfo.read(path)
    assert info.go_version == "go1.27.3" and len(info.deps) == 3
    # The magic off the 16-byte alignment is not the header (a string that happens to hold it).
    path.write_bytes(_binary("go1.27.3", MODINFO, pad=40))
    with pytest.raises(BuildInfoError, match="carries no Go build information"):
        buildinfo.read(path)


@pytest.mark.parametrize("data,message", [
    (b"\x7fELF" + bytes(100), "carries no Go build information"),
    (b"short", "too short"),
    (None, "older than 1.18"),
    ("cut", "truncated"),
    ("nopath", "names no main package"),
])
def test_missing_old_or_cut_build_information_is_an_error(tmp_path, data, message):
    if data is None:
        data = _binary("go1.17", MODINFO, flags=0)
    elif data == "cut":
        data = _binary("go1.27.3", MODINFO)[:-40]
    elif data == "nopath":
        data = _binary("go1.27.3", "mod\texample.com/x\tv1\t\n")
    path = tmp_path / "bin"
    path.write_bytes(data)
    with pytest.raises(BuildInfoError, match=message):
        buildinfo.read(path)


def test_a_real_go_binary(goroot):
    info = buildinfo.read(Path(goroot) / "bin" / "gofmt")
    assert info.path == "cmd/gofmt" and info.go_version.startswith("go1.")
