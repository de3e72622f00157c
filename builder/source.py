"""Locate the Go module and check that the target directory is a main package."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import SourceError

_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_]\w*)", re.M)
_NAME_OK = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class GoPackage:
    module_root: Path
    directory: Path

    @property
    def relative(self) -> str:
        rel = self.directory.relative_to(self.module_root).as_posix()
        return "." if rel == "." else f"./{rel}"

    @property
    def default_binary_name(self) -> str:
        return self.directory.name


def package_name(go_file: Path) -> str | None:
    text = _COMMENTS.sub("", go_file.read_text(errors="replace"))
    match = _PACKAGE.search(text)
    return match.group(1) if match else None


def find_package(source: Path) -> GoPackage:
    source = Path(source)
    if not source.exists():
        raise SourceError(f"source directory {source} does not exist")
    if not source.is_dir():
        raise SourceError(f"{source} is not a directory", "pass the directory of a Go main package")
    directory = source.resolve()
    files = sorted(p for p in directory.glob("*.go") if not p.name.endswith("_test.go"))
    if not files:
        raise SourceError(f"{source} has no Go files", "pass the directory of a Go main package")
    names = {name for name in map(package_name, files) if name is not None}
    if "main" not in names:
        found = ", ".join(sorted(names)) or "none"
        raise SourceError(f"{source} is not a main package (package {found})",
                          "leango builds commands: point it at a directory with `package main`")
    root = directory
    while not (root / "go.mod").is_file():
        if root.parent == root:
            raise SourceError(f"no go.mod found in {source} or any parent",
                              "run `go mod init` in the module root")
        root = root.parent
    return GoPackage(root, directory)


def check_binary_name(name: str) -> str:
    if not _NAME_OK.fullmatch(name) or len(name) > 100:
        raise SourceError(f"invalid binary name {name!r}", "use letters, digits, '.', '_' and '-'")
    return name


def uses_cgo(directory: Path) -> list[str]:
    """Names of non-test Go files in directory that import "C"."""
    hits = []
    for path in sorted(directory.glob("*.go")):
        text = _COMMENTS.sub("", path.read_text(errors="replace"))
        if re.search(r'^\s*import\s+(?:\(\s*)?"C"', text, re.M) and not path.name.endswith("_test.go"):
            hits.append(path.name)
    return hits
