import os
import shutil
import subprocess
from pathlib import Path

import pytest

from leango.builder.elf import check_static, is_elf, read_elf
from leango.builder.errors import NotStaticError
from support.paths import FIXTURES


def test_go_toolchain_binary_is_static(static_binary):
    info = check_static(static_binary, 62)
    assert info.is_static and info.interpreter == "" and info.needed == ()


def test_system_binary_is_dynamic():
    info = read_elf("/bin/true")
    assert info.interpreter.startswith("/lib") and "libc.so.6" in info.needed
    with pytest.raises(NotStaticError) as err:
        check_static("/bin/true", info.machine)
    message = str(err.value)
    assert "dynamically linked" in message and "libc.so.6" in message
    assert "CGO_ENABLED=0" in message and "netgo,osusergo" in message


def test_wrong_machine(static_binary):
    with pytest.raises(NotStaticError, match="expected AArch64"):
        check_static(static_binary, 183)


def test_not_elf(tmp_path):
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\necho hi\n")
    with pytest.raises(NotStaticError, match="not an ELF"):
        check_static(script, 62)


def test_truncated_elf(tmp_path, static_binary):
    broken = tmp_path / "broken"
    broken.write_bytes(static_binary.read_bytes()[:40])
    with pytest.raises(NotStaticError):
        check_static(broken, 62)


def test_cgo_go_binary_is_dynamic(tmp_path, goroot, test_gocache):
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the cgo fixture on the host: apt-get install gcc", pytrace=False)
    env = dict(os.environ, CGO_ENABLED="1", GOROOT=str(goroot), GOCACHE=str(test_gocache),
               GOTOOLCHAIN="local", GOFLAGS="", GOPROXY="off")
    out = tmp_path / "cgo-hello"
    subprocess.run([str(goroot / "bin" / "go"), "build", "-o", str(out), "."], check=True,
                   cwd=FIXTURES / "cgo-hello", env=env, capture_output=True)
    with pytest.raises(NotStaticError, match="libc.so.6"):
        check_static(out, 62)


# -- synthetic ELF files: each condition on its own, 32/64-bit, little and big endian -----------
import struct  # noqa: E402

PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
BASE = 0x400000


def synth_elf(*, is64: bool, little: bool, machine: int = 62, interp: bytes | None = None,
              needed: tuple[bytes, ...] = (), pad_phoff: int = 0) -> bytes:
    """A minimal executable with the program headers asked for (and a PT_LOAD covering it all)."""
    e = "<" if little else ">"
    ehsize, phentsize = (64, 56) if is64 else (52, 32)
    phnum = 1 + (interp is not None) + bool(needed)
    phoff = ehsize + pad_phoff
    data_off = phoff + phnum * phentsize
    strtab = b"\0" + b"".join(n + b"\0" for n in needed)
    name_at = [1 + sum(len(n) + 1 for n in needed[:i]) for i in range(len(needed))]
    interp_off = data_off
    strtab_off = interp_off + (len(interp) + 1 if interp is not None else 0)
    dyn_off = strtab_off + len(strtab)
    dyn_fmt = e + ("qQ" if is64 else "iI")
    dyn = b"".join(struct.pack(dyn_fmt, 1, at) for at in name_at)
    dyn += struct.pack(dyn_fmt, 5, BASE + strtab_off) + struct.pack(dyn_fmt, 0, 0)
    total = dyn_off + (len(dyn) if needed else 0)

    def phdr(ptype, off, size):
        if is64:
            return struct.pack(e + "IIQQQQQQ", ptype, 5, off, BASE + off, BASE + off, size, size, 0x1000)
        return struct.pack(e + "IIIIIIII", ptype, off, BASE + off, BASE + off, size, size, 5, 0x1000)
    phdrs = phdr(PT_LOAD, 0, total)
    if interp is not None:
        phdrs += phdr(PT_INTERP, interp_off, len(interp) + 1)
    if needed:
        phdrs += phdr(PT_DYNAMIC, dyn_off, len(dyn))
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 1 if little else 2, 1]) + bytes(9)
    if is64:
        header = ident + struct.pack(e + "HHIQQQIHHHHHH", 2, machine, 1, BASE, phoff, 0, 0, ehsize, phentsize,
                                     phnum, 0, 0, 0)
    else:
        header = ident + struct.pack(e + "HHIIIIIHHHHHH", 2, machine, 1, BASE, phoff, 0, 0, ehsize, phentsize,
                                     phnum, 0, 0, 0)
    body = header + bytes(pad_phoff) + phdrs + (interp + b"\0" if interp is not None else b"") + strtab
    return body + (dyn if needed else b"")


LAYOUTS = [(True, True), (True, False), (False, True), (False, False)]


@pytest.mark.parametrize("is64,little", LAYOUTS)
@pytest.mark.parametrize("interp,needed,static", [
    (None, (), True),
    (b"/lib/ld-linux.so.2", (), False),              # PT_INTERP alone makes it dynamic
    (None, (b"libc.so.6",), False),                  # DT_NEEDED alone makes it dynamic
    (b"/lib/ld.so", (b"libc.so.6", b"libm.so.6"), False),
])
def test_static_means_no_interpreter_and_no_needed_library(tmp_path, is64, little, interp, needed, static):
    path = tmp_path / "bin"
    path.write_bytes(synth_elf(is64=is64, little=little, interp=interp, needed=needed))
    info = read_elf(path)
    assert info.is_static is static
    assert info.interpreter == (interp.decode() if interp else "")
    assert info.needed == tuple(n.decode() for n in needed)
    if not static:
        with pytest.raises(NotStaticError, match="dynamically linked"):
            check_static(path, 62)


@pytest.mark.parametrize("is64,little", LAYOUTS)
def test_program_header_offset_is_read_from_the_header(tmp_path, is64, little):
    """e_phoff is honoured (here: program headers 24 bytes after the ELF header), for 32 and 64 bits."""
    path = tmp_path / "bin"
    path.write_bytes(synth_elf(is64=is64, little=little, interp=b"/lib/ld.so", pad_phoff=24, machine=40))
    info = read_elf(path)
    assert info.interpreter == "/lib/ld.so" and info.machine == 40


@pytest.mark.parametrize("platform,machine", [
    ("linux/arm/v7", 40), ("linux/386", 3), ("linux/s390x", 22), ("linux/ppc64le", 21), ("linux/arm64", 183),
])
def test_real_cross_compiled_static_binaries(tmp_path, goroot, test_gocache, platform, machine):
    from leango.builder.platform import go_env, parse_platform
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GOROOT": str(goroot), "GOCACHE": str(test_gocache),
           "GOTOOLCHAIN": "local", "GOFLAGS": "", "GOPROXY": "off", "CGO_ENABLED": "0",
           **go_env(parse_platform(platform))}
    out = tmp_path / "hello"
    subprocess.run([str(goroot / "bin" / "go"), "build", "-trimpath", "-o", str(out), "."], check=True,
                   cwd=FIXTURES / "hello-world", env=env, capture_output=True)
    info = check_static(out, machine)
    assert info.is_static and info.machine == machine
    with pytest.raises(NotStaticError, match="built for"):
        check_static(out, 62)


def test_is_elf_by_its_magic_only(tmp_path):
    (tmp_path / "elf").write_bytes(b"\x7fELF" + b"\0" * 60)
    (tmp_path / "archive").write_bytes(b"!<arch>\n")  # what go build writes for a non-main package
    (tmp_path / "short").write_bytes(b"\x7fEL")
    assert [is_elf(tmp_path / n) for n in ("elf", "archive", "short", "missing")] == [True, False, False, False]
    assert is_elf(Path("/bin/true"))
