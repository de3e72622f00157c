"""The Go build information a binary carries: its Go version, main module, every dependency
module (version, h1: sum, replacement) and the build settings, read from the binary itself.

The format is the one Go's `debug/buildinfo` reads (Go 1.18 and later): a 32-byte header in
the `.go.buildinfo` data, `\\xff Go buildinf:` then the pointer size and a flags byte; with the
flag 0x2 the version and the module information follow inline, each a uvarint length and its
bytes. The module information is `runtime/debug.BuildInfo`'s text form between two 16-byte
sentinels: lines `path`, `mod`, `dep`, `=>` (a replacement of the line before) and `build`.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BuildError

MAGIC = b"\xff Go buildinf:"
HEADER = 32
FLAG_INLINE = 0x2
MAX_INFO = 16 << 20  # module information of real programs is kilobytes


class BuildInfoError(BuildError):
    """The file carries no Go build information leango can read."""


@dataclass(frozen=True)
class Module:
    path: str
    version: str = ""
    sum: str = ""  # h1:…
    replace: Module | None = None

    @property
    def effective(self) -> Module:
        """What was compiled: the replacement when there is one."""
        return self.replace or self


@dataclass(frozen=True)
class BuildInfo:
    go_version: str
    path: str  # the main package's import path
    main: Module
    deps: tuple[Module, ...] = ()
    settings: tuple[tuple[str, str], ...] = field(default=())

    def setting(self, key: str) -> str:
        return dict(self.settings).get(key, "")


def read(path: Path) -> BuildInfo:
    """The build information of the Go binary at path; BuildInfoError when it has none."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < HEADER:
                raise BuildInfoError(f"{path.name} is not a Go binary (too short)")
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return _parse(data, path.name)
    except OSError as exc:
        raise BuildInfoError(f"cannot read {path}: {exc.strerror}") from exc


def _parse(data: mmap.mmap | bytes, name: str) -> BuildInfo:
    at = _find_header(data)
    if at < 0:
        raise BuildInfoError(f"{name} carries no Go build information (not a Go binary, or built before Go 1.18)")
    flags = data[at + 15]
    if not flags & FLAG_INLINE:
        raise BuildInfoError(f"{name} was built with a Go older than 1.18, whose build information leango "
                             "does not read")
    version, at = _string(data, at + HEADER, name)
    info, _ = _string(data, at, name)
    text = info.decode("utf-8", "replace")
    # The module information sits between two 16-byte sentinels.
    if len(text) >= 33 and text[-17] == "\n":
        text = text[16:-16]
    return parse_modinfo(version.decode("utf-8", "replace"), text)


def _find_header(data: mmap.mmap | bytes) -> int:
    """The magic at a 16-byte boundary, as the linker aligns it."""
    at = data.find(MAGIC)
    while at >= 0 and at % 16:
        at = data.find(MAGIC, at + 1)
    return at


def _string(data: mmap.mmap | bytes, at: int, name: str) -> tuple[bytes, int]:
    length, shift = 0, 0
    while True:
        if at >= len(data) or shift > 63:
            raise BuildInfoError(f"{name}: the build information is truncated")
        byte = data[at]
        at += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    if length > MAX_INFO or at + length > len(data):
        raise BuildInfoError(f"{name}: the build information is truncated")
    return bytes(data[at:at + length]), at + length


def parse_modinfo(go_version: str, text: str) -> BuildInfo:
    """runtime/debug.BuildInfo's text form → BuildInfo."""
    path, main, deps, settings = "", Module(""), [], []
    last: Module | None = None
    for line in text.splitlines():
        kind, _, rest = line.partition("\t")
        fields = rest.split("\t")
        if kind == "path":
            path = rest
        elif kind in ("mod", "dep"):
            module = _module(fields)
            if kind == "mod":
                main = last = module
            else:
                deps.append(module)
                last = module
        elif kind == "=>" and last is not None:
            replaced = _module(fields)
            updated = Module(last.path, last.version, last.sum, replaced)
            if last is main:
                main = updated
            else:
                deps[-1] = updated
            last = updated
        elif kind == "build":
            key, _, value = rest.partition("=")
            settings.append((key, _unquote(value)))
    if not path:
        raise BuildInfoError("the build information names no main package")
    return BuildInfo(go_version, path, main, tuple(deps), tuple(settings))


def _module(fields: list[str]) -> Module:
    """PATH [VERSION [SUM]] of a mod, dep or => line."""
    padded = [*fields, "", ""]
    return Module(padded[0], padded[1], padded[2])


def _unquote(value: str) -> str:
    """build settings whose value holds spaces or quotes are Go-quoted (strconv.Quote)."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        import json
        try:
            return str(json.loads(value))
        except ValueError:
            return value
    return value
