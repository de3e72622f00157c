"""Where the Go module is, and which package patterns to hand to `go list`.

Nothing here opens a Go file: the go tool, run inside the build container, is
the authority on packages (golist.py). The host only checks that each path the
user gives is a directory (never a FIFO or a device, which could hang or
exhaust a reader), finds the module root (the nearest go.mod, a regular file)
and turns every SOURCE into a pattern relative to it: a directory, a package
path (`./cmd/api`) or a pattern (`./cmd/...`, `./...`).
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from .errors import SourceError

_NAME_OK = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_MAJOR = re.compile(r"v[2-9][0-9]*|v[1-9][0-9]+")
WILDCARD = "..."


CONTAINER_TREE = "/src"


@dataclass(frozen=True)
class ModuleSources:
    """The module, its patterns, and the tree the build container sees at /src.

    The tree is the lowest directory holding the module and every directory a relative
    `replace` names, extended to the repository root (the nearest parent holding `.git`)
    when there is one: mounted as one tree, relative symlinks and `../` paths resolve in
    the container as they do on the host (a replaced module whose files link to a sibling
    directory, as etcd's do). Digests do not depend on where it lives (-trimpath)."""
    module_root: Path
    patterns: tuple[str, ...]  # relative to module_root: ".", "./cmd/api", "./cmd/..."
    replacements: tuple[tuple[Path, str], ...] = ()  # local `replace` directories: (host, container)
    tree_root: Path | None = None  # mounted at /src; None: the module root

    @property
    def tree(self) -> Path:
        return self.tree_root or self.module_root

    @property
    def module_dir(self) -> str:
        """Where the container sees the module."""
        rel = self.module_root.relative_to(self.tree).as_posix()
        return CONTAINER_TREE if rel == "." else f"{CONTAINER_TREE}/{rel}"

    @property
    def extra_mounts(self) -> tuple[tuple[Path, str], ...]:
        """Replacement directories outside the tree (absolute `replace` paths): mounted on their own."""
        return tuple((host, target) for host, target in self.replacements
                     if not (target == CONTAINER_TREE or target.startswith(CONTAINER_TREE + "/")))

    @property
    def has_vendor(self) -> bool:
        return _kind(self.module_root / "vendor") == "dir"


def _kind(path: Path) -> str:
    """'dir', 'file', 'missing' or a word for anything else — without opening it."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        raise SourceError(f"cannot inspect {path}: {exc.strerror}") from exc
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file or directory"


def _split(source: str) -> tuple[str, str]:
    """'./cmd/...' → ('./cmd', '/...'); '...' → ('.', '/...'); a plain path → (path, '')."""
    text = source.rstrip("/") or "/"
    if text == WILDCARD:
        return ".", "/" + WILDCARD
    if text.endswith("/" + WILDCARD):
        return text[: -len(WILDCARD) - 1] or "/", "/" + WILDCARD
    if WILDCARD in text:
        raise SourceError(f"unsupported pattern {source!r}",
                          "use a directory, a package path such as ./cmd/api, or DIR/... for every package below DIR")
    return text, ""


def module_root(directory: Path) -> Path:
    root = directory
    while True:
        kind = _kind(root / "go.mod")
        if kind == "file":
            return root
        if kind not in ("missing", "dir"):
            raise SourceError(f"{root / 'go.mod'} is {kind}, not a file")
        if root.parent == root:
            raise SourceError(f"no go.mod found in {directory} or any parent", "run `go mod init` in the module root")
        root = root.parent


def locate(sources: tuple[str, ...], cwd: Path) -> ModuleSources:
    """Resolve the user's SOURCE arguments (relative to cwd) to one module and its patterns."""
    if not sources:
        sources = (".",)
    resolved: list[tuple[Path, str]] = []
    for source in sources:
        base, suffix = _split(source)
        directory = Path(base) if Path(base).is_absolute() else cwd / base
        kind = _kind(directory)
        if kind == "missing":
            raise SourceError(f"source {source} does not exist")
        if kind != "dir":
            what = "a file" if kind == "file" else kind
            raise SourceError(f"source {source} is {what}, not a directory",
                              "pass the directory of a Go main package, or a pattern such as ./cmd/...")
        resolved.append((directory.resolve(), suffix))
    roots = {module_root(d) for d, _ in resolved}
    if len(roots) > 1:
        raise SourceError("the sources belong to different Go modules: " + ", ".join(sorted(map(str, roots))),
                          "build each module with its own leango command")
    root = roots.pop()
    patterns = []
    for directory, suffix in resolved:
        rel = directory.relative_to(root).as_posix()
        patterns.append(("." if rel == "." else f"./{rel}") + suffix)
    tree, replacements = source_tree(root)
    return ModuleSources(root, tuple(dict.fromkeys(patterns)), replacements, tree)


def source_tree(module_root: Path, home: Path | None = None) -> tuple[Path, tuple[tuple[Path, str], ...]]:
    """The tree to mount at /src for this module (see ModuleSources), and its local replacements
    with where the container sees each."""
    local = local_replacements(module_root)
    relative = [(host, lexical) for host, lexical, rel in local if not rel.startswith("/")]
    # The lexical place (what go.mod's ../ path names) and, when it is reached through a
    # symlink, the real one: both must be in the tree for the link to resolve inside it.
    tree = Path(os.path.commonpath([module_root, *(p for pair in relative for p in pair)]))
    if tree == Path("/"):
        raise SourceError(f"the module {module_root} and the directories its go.mod replaces modules with share "
                          "no parent directory but /", "keep replaced modules beside the module, such as ../lib")
    tree = _repository_root(tree, home if home is not None else Path.home()) or tree
    out = []
    for host, lexical, rel in local:
        if rel.startswith("/"):
            out.append((host, _check_target(rel, rel)))
        else:
            inside = lexical.relative_to(tree).as_posix()
            out.append((host, CONTAINER_TREE if inside == "." else f"{CONTAINER_TREE}/{inside}"))
    return tree, tuple(out)


def _repository_root(directory: Path, home: Path) -> Path | None:
    """The nearest directory at or above `directory` holding `.git` (never / or the home directory,
    whose `.git` would be a dotfiles repository, not this project's)."""
    for candidate in (directory, *directory.parents):
        if candidate == Path("/") or candidate == home:
            return None
        if _kind(candidate / ".git") in ("dir", "file"):  # a worktree's .git is a file
            return candidate
    return None


_REPLACE = re.compile(r"=>\s*(\.{1,2}/[^\s]*|/[^\s]*)\s*$", re.M)
RESERVED = ("/usr/local/go", "/cache", "/tmp", "/out", "/run/leango", "/src", "/etc", "/proc", "/dev", "/sys")


def local_replacements(module_root: Path) -> list[tuple[Path, Path, str]]:
    """The directories go.mod `replace`s modules with (`=> ../lib`, `=> /abs/lib`): each as
    (real host directory, lexical host path, the path go.mod gives)."""
    gomod = module_root / "go.mod"
    if _kind(gomod) != "file":
        return []
    text = gomod.read_text(errors="replace")
    out: list[tuple[Path, Path, str]] = []
    for match in _REPLACE.finditer(text):
        rel = match.group(1)
        lexical = Path(posixpath.normpath(module_root / rel))
        host = lexical.resolve()
        kind = _kind(host)
        if kind != "dir":
            what = "missing" if kind == "missing" else kind
            raise SourceError(f"go.mod replaces a module with {rel}, which is {what}")
        out.append((host, lexical, rel))
    return out


def _check_target(rel: str, target: str) -> str:
    """An absolute replacement is mounted where go.mod names it: not over the container's own places."""
    target = posixpath.normpath(target)
    if target == "/" or any(target == r or target.startswith(r + "/") or r.startswith(target + "/")
                            for r in RESERVED):
        raise SourceError(f"go.mod replaces a module with {rel}, which the build container cannot mount "
                          f"at {target}", "use a path beside the module, such as ../lib")
    return target


_MODULE_LINE = re.compile(r'module\s+(?:"([^"\s]+)"|([^"\s]+))')


def module_path(module_root: Path) -> str:
    """The module directive of go.mod ('' when it cannot be read plainly: go list decides then)."""
    try:
        text = (module_root / "go.mod").read_text()
    except (OSError, UnicodeDecodeError):
        return ""
    for line in text.splitlines():
        match = _MODULE_LINE.fullmatch(line.split("//", 1)[0].strip())
        if match:
            return match.group(1) or match.group(2)
    return ""


_PACKAGE_CLAUSE = re.compile(r"(?:\s|//[^\n]*|/\*.*?\*/)*package\s+([A-Za-z_][A-Za-z0-9_]*)", re.S)


def declares_main(directory: Path) -> bool:
    """True when every .go file of directory that go would read, tests aside, begins (after
    comments) with `package main`, and there is one. Anything else (another name, a clause
    it cannot find, a file it cannot read or that is not a regular file, never opened) is
    False: go list decides then."""
    try:
        files = [f for f in directory.iterdir() if f.suffix == ".go" and not f.name.endswith("_test.go")
                 and not f.name.startswith(("_", "."))]  # go ignores those names
        if not files:
            return False
        for file in files:
            if not file.is_file():
                return False
            with file.open("rb") as f:
                head = f.read(64 * 1024).decode("utf-8", "replace").removeprefix("\ufeff")
            match = _PACKAGE_CLAUSE.match(head)
            if match is None or match.group(1) != "main":
                return False
    except OSError:
        return False
    return True


def binary_name(import_path: str) -> str:
    """As `go build` names a binary: the last element of the import path, skipping a /vN
    major-version suffix (cmd/go: "the last element ... not ending in /vN")."""
    parts = [p for p in import_path.split("/") if p]
    if len(parts) > 1 and _MAJOR.fullmatch(parts[-1]):
        parts.pop()
    return parts[-1] if parts else ""


def check_binary_name(name: str) -> str:
    if not _NAME_OK.fullmatch(name) or len(name) > 100:
        raise SourceError(f"invalid binary name {name!r}", "use letters, digits, '.', '_' and '-'")
    return name
