"""Static-binary check by reading ELF headers in pure Python.

`ldd` is not used: on current glibc it prints "not a dynamic executable" on
stderr and exits 1 for a static binary, so `ldd | grep` checks silently pass.
A binary is static when it has no PT_INTERP program header and its dynamic
section (if any) has no DT_NEEDED entry (see elf(5)).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .errors import NotStaticError

PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NULL, DT_NEEDED, DT_STRTAB = 0, 1, 5
MACHINE_NAMES = {3: "x86 (386)", 8: "MIPS", 21: "PowerPC64", 22: "s390x", 40: "ARM",
                 62: "x86-64 (amd64)", 183: "AArch64 (arm64)", 243: "RISC-V", 258: "LoongArch"}


@dataclass(frozen=True)
class ElfInfo:
    machine: int
    interpreter: str
    needed: tuple[str, ...]

    @property
    def is_static(self) -> bool:
        return not self.interpreter and not self.needed


MAX_STRING = 4096  # an interpreter path or library name longer than this is a corrupt file
Segment = tuple[int, int, int, int]  # (p_type, p_offset, p_vaddr, p_filesz)


ELF_MAGIC = b"\x7fELF"


def is_elf(path: Path) -> bool:
    """Whether path begins as an ELF file does (what `go build` makes of a main package; of any
    other package it writes an ar archive). An unreadable file is not one."""
    try:
        with path.open("rb") as f:
            return f.read(len(ELF_MAGIC)) == ELF_MAGIC
    except OSError:
        return False


class _Reader:
    """Reads ELF structures with seeks: a 500 MB binary costs a few kilobytes of memory."""

    def __init__(self, src: BinaryIO, size: int):
        self.src, self.size = src, size
        ident = self.read(0, 6)
        if ident[:4] != ELF_MAGIC:
            raise NotStaticError("not an ELF executable")
        self.is64 = ident[4] == 2
        self.end = "<" if ident[5] == 1 else ">"

    def read(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise NotStaticError("truncated or corrupt ELF file")
        self.src.seek(offset)
        data = self.src.read(length)
        if len(data) != length:
            raise NotStaticError("truncated or corrupt ELF file")
        return data

    def unpack(self, fmt: str, offset: int) -> tuple[int, ...]:
        fmt = self.end + fmt
        return struct.unpack(fmt, self.read(offset, struct.calcsize(fmt)))

    def header(self) -> tuple[int, int, int, int]:
        """(e_machine, e_phoff, e_phentsize, e_phnum)"""
        machine, = self.unpack("H", 18)
        if self.is64:
            phoff, = self.unpack("Q", 32)
            phentsize, phnum = self.unpack("HH", 54)
        else:
            phoff, = self.unpack("I", 28)
            phentsize, phnum = self.unpack("HH", 42)
        return machine, phoff, phentsize, phnum

    def segments(self) -> list[Segment]:
        """(p_type, p_offset, p_vaddr, p_filesz) for each program header."""
        _, phoff, entsize, num = self.header()
        out = []
        for i in range(num):
            off = phoff + i * entsize
            if self.is64:
                ptype, _flags, poff, vaddr, _paddr, filesz = self.unpack("IIQQQQ", off)
            else:
                ptype, poff, vaddr, _paddr, filesz = self.unpack("IIIII", off)
            out.append((ptype, poff, vaddr, filesz))
        return out

    def cstring(self, offset: int) -> str:
        data = self.read(offset, min(MAX_STRING, max(0, self.size - offset)))
        end = data.find(b"\0")
        if end < 0:
            raise NotStaticError("corrupt ELF string table")
        return data[:end].decode("utf-8", "replace")


def _vaddr_to_offset(segments: list[Segment], vaddr: int) -> int:
    for ptype, poff, start, filesz in segments:
        if ptype == PT_LOAD and start <= vaddr < start + filesz:
            return poff + (vaddr - start)
    raise NotStaticError("ELF dynamic string table is not inside a loaded segment")


def _needed(reader: _Reader, segments: list[Segment], dyn_off: int, dyn_size: int) -> tuple[str, ...]:
    fmt, step = ("qQ", 16) if reader.is64 else ("iI", 8)
    entries, strtab = [], None
    for off in range(dyn_off, dyn_off + dyn_size, step):
        tag, val = reader.unpack(fmt, off)
        if tag == DT_NULL:
            break
        if tag == DT_NEEDED:
            entries.append(val)
        elif tag == DT_STRTAB:
            strtab = val
    if not entries:
        return ()
    if strtab is None:
        return tuple(f"<unnamed #{i}>" for i in range(len(entries)))
    base = _vaddr_to_offset(segments, strtab)
    return tuple(reader.cstring(base + v) for v in entries)


def read_elf(path: Path) -> ElfInfo:
    """The machine, interpreter and needed libraries of an ELF file, read with seeks."""
    needed: tuple[str, ...]
    with open(path, "rb") as src:
        reader = _Reader(src, os.fstat(src.fileno()).st_size)
        machine = reader.header()[0]
        segments = reader.segments()
        interp, needed = "", ()
        for ptype, poff, _vaddr, filesz in segments:
            if ptype == PT_INTERP:
                interp = reader.read(poff, min(filesz, MAX_STRING)).rstrip(b"\0").decode("utf-8", "replace")
                interp = interp or "(empty)"
            elif ptype == PT_DYNAMIC:
                needed = _needed(reader, segments, poff, filesz)
    return ElfInfo(machine, interp, needed)


def check_static(path: Path, expected_machine: int, label: str = "") -> ElfInfo:
    """Raise NotStaticError unless path is a static ELF for expected_machine."""
    label = label or Path(path).name
    try:
        info = read_elf(path)
    except NotStaticError as exc:
        raise NotStaticError(f"{label}: {exc}") from exc
    if info.machine != expected_machine:
        raise NotStaticError(
            f"{label}: built for {MACHINE_NAMES.get(info.machine, info.machine)}, "
            f"expected {MACHINE_NAMES.get(expected_machine, expected_machine)}")
    if not info.is_static:
        needs = [f"interpreter {info.interpreter}"] if info.interpreter else []
        if info.needed:
            needs.append("libraries " + ", ".join(info.needed))
        raise NotStaticError(
            f"{label} is dynamically linked: it needs {' and '.join(needs)}, "
            "which a scratch image does not have",
            "build with CGO_ENABLED=0, and use -tags netgo,osusergo to keep net and os/user pure Go")
    return info
