"""`leango resolve`: `leango://<import path>` in YAML (Kubernetes manifests, Helm values) replaced
by the image pushed for that package, `REPO/BINARY@sha256:…`, as `ko resolve` does for `ko://`.

The YAML is read and written with ruamel.yaml's round-trip mode: comments, key order, quoting,
multi-document files and document markers stay as they were; only the replaced strings change
(keeping their quotes). Every import path is built once, all of them in one build.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..oci import Reference
from .errors import SourceError, SpecError
from .source import module_path

SCHEME = "leango://"
_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Found:
    """One leango:// string: its import path, where it is (file:line), and how to replace it."""
    import_path: str
    where: str
    replace: Callable[[str], None]


def _yaml() -> Any:
    try:
        from ruamel.yaml import YAML
    except ImportError as exc:  # pragma: no cover - the extra is in every test environment
        raise SpecError("leango resolve needs ruamel.yaml", "pip install 'leango[resolve]'") from exc
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long line that was not folded
    return yaml


def inputs(paths: list[str], stdin: Callable[[], str]) -> list[tuple[str, str]]:
    """(name, text) of each -f: a file, every .yaml/.yml under a directory (sorted), or - (stdin)."""
    out: list[tuple[str, str]] = []
    for given in paths:
        if given == "-":
            out.append(("<stdin>", stdin()))
            continue
        path = Path(given)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
            if not files:
                raise SpecError(f"-f {given}: no .yaml or .yml file in the directory")
        elif path.is_file():
            files = [path]
        else:
            raise SpecError(f"-f {given}: no such file or directory")
        for f in files:
            try:
                out.append((str(f), f.read_text()))
            except (OSError, UnicodeDecodeError) as exc:
                raise SpecError(f"cannot read {f}: {exc}") from exc
    return out


def load(name: str, text: str) -> list[Any]:
    """The documents of one input, round-trip."""
    from ruamel.yaml.error import YAMLError
    try:
        return list(_yaml().load_all(text))
    except YAMLError as exc:
        raise SpecError(f"{name}: not valid YAML: {exc}") from None


def references(name: str, docs: list[Any]) -> list[Found]:
    """Every leango:// string of the documents, in document order."""
    found: list[Found] = []
    for doc in docs:
        found.extend(_walk(name, doc))
    return found


def _walk(name: str, node: Any) -> Iterator[Found]:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    if isinstance(node, CommentedMap):
        for key in list(node):
            value = node[key]
            if isinstance(value, str) and value.startswith(SCHEME):
                line = node.lc.value(key)[0] + 1
                yield Found(value[len(SCHEME):], f"{name}:{line}", _setter(node, key, value))
            else:
                yield from _walk(name, value)
    elif isinstance(node, CommentedSeq):
        for i, value in enumerate(node):
            if isinstance(value, str) and value.startswith(SCHEME):
                line = node.lc.item(i)[0] + 1
                yield Found(value[len(SCHEME):], f"{name}:{line}", _setter(node, i, value))
            else:
                yield from _walk(name, value)


def _setter(parent: Any, key: Any, old: str) -> Callable[[str], None]:
    """Replace parent[key] keeping the scalar's style: a quoted string stays quoted the same way."""
    def put(new: str) -> None:
        parent[key] = type(old)(new) if type(old) is not str else new
    return put


def dump(docs: list[Any], text: str) -> str:
    """The documents written back as text had them: its indentation (ruamel.yaml keeps comments,
    order and quoting, not indentation), an explicit `---` before the first."""
    out = io.StringIO()
    yaml = _yaml()
    mapping, offset = indentation(text)
    yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    yaml.explicit_start = text.lstrip().startswith("---")
    yaml.dump_all(docs, out)
    return out.getvalue()


def indentation(text: str) -> tuple[int, int]:
    """(mapping indent, offset of a sequence's dash under its key) of the first nested mapping and
    sequence of text; (2, 0) where it has none."""
    mapping = offset = None
    opened: int | None = None  # the indent of a `key:` line whose value is on the next lines
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if not stripped.strip() or stripped.startswith(("#", "---", "...")):
            continue
        indent = len(line) - len(stripped)
        if opened is not None and indent > opened:
            if stripped.startswith("- ") and offset is None:
                offset = indent - opened
            elif not stripped.startswith("- ") and mapping is None:
                mapping = indent - opened
        body = stripped.split(" #", 1)[0].rstrip()
        opened = indent if body.endswith(":") and not stripped.startswith("- ") else None
        if mapping is not None and offset is not None:
            break
    return mapping or 2, offset or 0


def package_dirs(found: list[Found], cwd: Path) -> dict[str, Path]:
    """Import path → its directory in the Go module holding cwd; an error naming the file and line
    of the first that is not a package of that module."""
    root = _module_root(cwd)
    module = module_path(root)
    if not module:
        raise SourceError(f"{root / 'go.mod'} has no module line leango can read")
    out: dict[str, Path] = {}
    for f in found:
        if f.import_path in out:
            continue
        if f.import_path != module and not f.import_path.startswith(module + "/"):
            raise SourceError(f"{f.where}: {SCHEME}{f.import_path} is not a package of {module} (the module "
                              f"of {root})", "run leango resolve in the module that holds the package")
        rel = f.import_path[len(module):].lstrip("/")
        directory = root / rel
        if not directory.is_dir() or not any(directory.glob("*.go")):
            raise SourceError(f"{f.where}: {SCHEME}{f.import_path}: no Go package at {directory}")
        out[f.import_path] = directory
    return out


def _module_root(cwd: Path) -> Path:
    for d in (cwd, *cwd.parents):
        if (d / "go.mod").is_file():
            return d
    raise SourceError(f"no go.mod in {cwd} or above it", "run leango resolve inside the Go module")


def pinned(references_of: dict[str, Reference]) -> dict[str, str]:
    """Import path → REPO/BINARY@DIGEST (the tag left out: the digest is what is deployed)."""
    return {path: str(Reference(r.registry, r.repository, "", r.digest)) for path, r in references_of.items()}


def relative(directory: Path, cwd: Path) -> str:
    """directory as a SOURCE argument from cwd (./cmd/api)."""
    rel = os.path.relpath(directory, cwd)
    return rel if rel.startswith(".") else f"./{rel}"
