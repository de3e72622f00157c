"""ELF reading and platform parsing, one condition per test with exact messages: corrupt and
truncated files, string tables, machine names; every architecture, variant and host alias.
Written against the survivors of scripts/mutation (docs/testing.md)."""

from __future__ import annotations

import struct

import pytest
from test_elf import synth_elf

from leango.builder import platform as platform_module
from leango.builder.elf import MAX_STRING, check_static, read_elf
from leango.builder.errors import NotStaticError, SpecError
from leango.builder.platform import elf_machine, go_env, host_platform, parse_platform, supported
from leango.oci import Platform

HINT = "build with CGO_ENABLED=0, and use -tags netgo,osusergo to keep net and os/user pure Go"


def _write(tmp_path, data, name="app"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _refusal(path, machine=62, label=""):
    with pytest.raises(NotStaticError) as err:
        check_static(path, machine, label)
    return str(err.value)


@pytest.mark.parametrize("is64", [True, False])
@pytest.mark.parametrize("little", [True, False])
def test_dynamic_message_names_interpreter_and_libraries(tmp_path, is64, little):
    path = _write(tmp_path, synth_elf(is64=is64, little=little, interp=b"/lib/ld.so", needed=(b"libc.so.6", b"libm.so.6")))
    assert _refusal(path) == ("app is dynamically linked: it needs interpreter /lib/ld.so and libraries "
                              f"libc.so.6, libm.so.6, which a scratch image does not have ({HINT})")


def test_dynamic_message_interpreter_only(tmp_path):
    path = _write(tmp_path, synth_elf(is64=True, little=True, interp=b"/lib/ld.so"))
    assert _refusal(path, label="svc") == (f"svc is dynamically linked: it needs interpreter /lib/ld.so, which a "
                                           f"scratch image does not have ({HINT})")


def test_dynamic_message_libraries_only(tmp_path):
    path = _write(tmp_path, synth_elf(is64=False, little=False, needed=(b"libc.so.6",)))
    assert _refusal(path).startswith("app is dynamically linked: it needs libraries libc.so.6, which")


def test_empty_interpreter_is_still_an_interpreter(tmp_path):
    path = _write(tmp_path, synth_elf(is64=True, little=True, interp=b""))
    assert read_elf(path).interpreter == "(empty)"
    assert "needs interpreter (empty)" in _refusal(path)


@pytest.mark.parametrize("machine,expected,message", [
    (183, 62, "app: built for AArch64 (arm64), expected x86-64 (amd64)"),
    (62, 40, "app: built for x86-64 (amd64), expected ARM"),
    (999, 3, "app: built for 999, expected x86 (386)"),
    (62, 998, "app: built for x86-64 (amd64), expected 998"),
])
def test_wrong_machine(tmp_path, machine, expected, message):
    path = _write(tmp_path, synth_elf(is64=True, little=True, machine=machine))
    assert _refusal(path, expected) == message


def test_static_returns_its_info(tmp_path):
    path = _write(tmp_path, synth_elf(is64=False, little=True, machine=40))
    info = check_static(path, 40)
    assert (info.machine, info.interpreter, info.needed, info.is_static) == (40, "", (), True)


@pytest.mark.parametrize("data,message", [
    (b"", "app: truncated or corrupt ELF file"),
    (b"\x7fELF", "app: truncated or corrupt ELF file"),
    (b"#!/bin/sh\n", "app: not an ELF executable"),
    (b"MZ" + bytes(100), "app: not an ELF executable"),
])
def test_not_elf(tmp_path, data, message):
    assert _refusal(_write(tmp_path, data)) == message


def test_truncated_program_headers(tmp_path):
    data = synth_elf(is64=True, little=True)
    assert _refusal(_write(tmp_path, data[:70])) == "app: truncated or corrupt ELF file"


def test_header_cut_exactly_at_the_program_headers(tmp_path):
    """A file ending exactly where a read ends is read; one byte less is truncated."""
    data = synth_elf(is64=True, little=True, interp=b"/l")
    assert read_elf(_write(tmp_path, data)).interpreter == "/l"
    assert _refusal(_write(tmp_path, data[:-2], "cut")) == "cut: truncated or corrupt ELF file"  # interp's NUL


def test_file_cut_inside_the_string_table(tmp_path):
    """A file that ends inside a library name (no terminator, no dynamic section after it) is
    truncated: the dynamic section is read before the string it points at. A string without a
    terminator inside a whole file is test_string_longer_than_the_limit."""
    data = synth_elf(is64=True, little=True, needed=(b"libc.so.6",))
    at = data.index(b"libc.so.6\0") + len(b"libc.so.6")
    path = _write(tmp_path, data[:at] + b"x")
    assert _refusal(path) == "app: truncated or corrupt ELF file"


def test_string_longer_than_the_limit(tmp_path):
    name = b"l" * (MAX_STRING + 10)
    path = _write(tmp_path, synth_elf(is64=True, little=True, needed=(name,)))
    assert _refusal(path) == "app: corrupt ELF string table"
    ok = _write(tmp_path, synth_elf(is64=True, little=True, needed=(b"l" * (MAX_STRING - 1),)), "ok")
    assert read_elf(ok).needed == ("l" * (MAX_STRING - 1),)


def test_string_table_outside_loaded_segments(tmp_path):
    data = bytearray(synth_elf(is64=True, little=True, needed=(b"libc.so.6",)))
    # The dynamic section ends the file: ..., DT_STRTAB, DT_NULL (16 bytes each). Point DT_STRTAB away.
    at = len(data) - 32
    assert struct.unpack("<q", data[at:at + 8]) == (5,)
    data[at + 8:at + 16] = struct.pack("<Q", 0x7FFF0000)
    assert _refusal(_write(tmp_path, bytes(data))) == \
        "app: ELF dynamic string table is not inside a loaded segment"


def test_needed_without_string_table(tmp_path):
    data = bytearray(synth_elf(is64=True, little=True, needed=(b"a", b"b")))
    at = len(data) - 32
    assert struct.unpack("<q", data[at:at + 8]) == (5,)
    data[at:at + 8] = struct.pack("<q", 7)  # DT_STRTAB → an unrelated tag
    assert read_elf(_write(tmp_path, bytes(data))).needed == ("<unnamed #0>", "<unnamed #1>")


def test_dynamic_section_ends_at_dt_null(tmp_path):
    data = bytearray(synth_elf(is64=False, little=True, needed=(b"a", b"b")))
    second = len(data) - 24  # 8-byte entries: NEEDED a, NEEDED b, STRTAB, NULL
    assert struct.unpack("<i", data[second:second + 4]) == (1,)
    data[second:second + 4] = struct.pack("<i", 0)  # the second DT_NEEDED becomes DT_NULL
    # Nothing after DT_NULL is read, not even the DT_STRTAB that names "a".
    assert read_elf(_write(tmp_path, bytes(data))).needed == ("<unnamed #0>",)


# -- platforms ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected,env,machine", [
    ("linux/amd64/v1", Platform("linux", "amd64", "v1"), {"GOAMD64": "v1"}, 62),
    ("linux/amd64/v4", Platform("linux", "amd64", "v4"), {"GOAMD64": "v4"}, 62),
    ("linux/arm64", Platform("linux", "arm64"), {}, 183),
    ("linux/arm/v5", Platform("linux", "arm", "v5"), {"GOARM": "5"}, 40),
    ("linux/386", Platform("linux", "386"), {}, 3),
    ("linux/ppc64le", Platform("linux", "ppc64le"), {}, 21),
    ("linux/s390x", Platform("linux", "s390x"), {}, 22),
    ("linux/mips64le", Platform("linux", "mips64le"), {}, 8),
    ("linux/loong64", Platform("linux", "loong64"), {}, 258),
    (" linux/riscv64 ", Platform("linux", "riscv64"), {}, 243),
])
def test_every_architecture(text, expected, env, machine):
    p = parse_platform(text)
    assert p == expected and elf_machine(p) == machine
    assert go_env(p) == {"GOOS": "linux", "GOARCH": expected.architecture, **env}


def test_supported_list():
    assert supported() == ["linux/amd64", "linux/arm64", "linux/arm", "linux/386", "linux/ppc64le", "linux/s390x",
                           "linux/riscv64", "linux/mips64le", "linux/loong64"]


@pytest.mark.parametrize("text", ["linux", "linux/", "/amd64", "linux/amd64/v1/x", ""])
def test_malformed(text):
    with pytest.raises(SpecError) as err:
        parse_platform(text)
    assert str(err.value) == f"malformed platform {text!r} (expected OS/ARCH[/VARIANT], e.g. linux/arm64)"


@pytest.mark.parametrize("text", ["windows/amd64", "linux/sparc", "darwin/arm64"])
def test_unsupported(text):
    with pytest.raises(SpecError) as err:
        parse_platform(text)
    assert str(err.value) == f"unsupported platform {text!r} (supported: {', '.join(supported())})"


@pytest.mark.parametrize("text,variant,choices", [
    ("linux/arm64/v9", "v9", "v8"), ("linux/amd64/v5", "v5", "v1, v2, v3, v4"), ("linux/arm/v8", "v8", "v5, v6, v7"),
    ("linux/386/v1", "v1", "none"),
])
def test_unsupported_variant(text, variant, choices):
    arch = text.split("/")[1]
    with pytest.raises(SpecError) as err:
        parse_platform(text)
    assert str(err.value) == f"unsupported variant {variant!r} for linux/{arch} (choose from {choices})"


@pytest.mark.parametrize("machine,expected", [
    ("x86_64", "linux/amd64"), ("AMD64", "linux/amd64"), ("aarch64", "linux/arm64"), ("arm64", "linux/arm64"),
    ("armv7l", "linux/arm/v7"), ("i686", "linux/386"), ("i386", "linux/386"), ("ppc64le", "linux/ppc64le"),
    ("s390x", "linux/s390x"), ("riscv64", "linux/riscv64"), ("loongarch64", "linux/loong64"),
])
def test_host_machines(monkeypatch, machine, expected):
    monkeypatch.setattr(platform_module._host, "machine", lambda: machine)
    assert str(host_platform()) == expected


def test_unknown_host(monkeypatch):
    monkeypatch.setattr(platform_module._host, "machine", lambda: "PDP11")
    with pytest.raises(SpecError) as err:
        host_platform()
    assert str(err.value) == "unknown host machine 'pdp11' (pass --platform explicitly)"
