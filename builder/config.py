"""leango.toml: a module's build settings in one file, as ko's .ko.yaml.

Found at the root of the Go module being built (the directory holding go.mod, found by walking
up from the first SOURCE), or named with --config. Read with tomllib. Top-level keys are the
defaults of `leango build`'s flags; `[images."IMPORT/PATH"]` sections hold one main package's
own settings. A flag given on the command line (or its environment variable: LEANGO_REPO) wins
over the file: a string or list replaces, a table adds its keys (the flag's values win). String
values may use the templates of --ldflags (template.py); an unknown template name, an unknown key
and a wrong type are errors naming the file, the line and the key.

    repository = "registry.example.com/team"
    platforms = ["linux/amd64", "linux/arm64"]

    [images."example.com/shop/cmd/cart"]
    ldflags = "-X main.version={{ .Git.Tag }}"
    runtime-env = { CART_MODE = "prod" }
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import template
from .errors import SpecError
from .gobuild import CONTROLLED
from .spec import ImageOverride

FILE_NAME = "leango.toml"

# The kinds of value a key takes, each with what an error says it expected.
STR, BOOL, STRS, TABLE, PATH, PATHS, STR_OR_STRS = "str", "bool", "strs", "table", "path", "paths", "str-or-strs"
_EXPECTED = {STR: "a string", BOOL: "true or false", STRS: "a list of strings", TABLE: "a table of strings",
             PATH: "a path (a string)", PATHS: "a list of paths (strings)",
             STR_OR_STRS: "a string or a list of strings"}

# Top-level keys: the defaults of build's flags (the flag's name, without --, unless said).
DEFAULTS = {
    "repository": STR, "tags": STRS, "platforms": STRS, "user": STR, "compression": STR, "ldflags": STR,
    "build-tags": STRS, "env": TABLE, "labels": TABLE, "annotations": TABLE, "runtime-env": TABLE, "args": STRS,
    "ca-bundle": PATH, "ca-certs": PATHS, "cache-from": STRS, "cache-to": STR, "sbom": STR_OR_STRS,
    "provenance": BOOL, "zoneinfo": BOOL,
}
# An [images."IMPORT/PATH"] section's keys.
IMAGE_KEYS = {
    "binary-name": STR, "ldflags": STR, "env": TABLE, "runtime-env": TABLE, "args": STRS, "labels": TABLE,
    "annotations": TABLE, "data": PATH, "zoneinfo": BOOL,
}
# The build parameter (click's name) of each section key: a flag given wins over the section.
IMAGE_PARAMS = {"binary-name": "binary_name", "ldflags": "ldflags", "env": "env", "runtime-env": "runtime_env",
                "args": "args", "labels": "labels", "annotations": "annotations", "data": "data_dir",
                "zoneinfo": "zoneinfo"}
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Value:
    value: Any
    line: int  # in the file


@dataclass(frozen=True)
class Config:
    path: Path
    defaults: dict[str, Value] = field(default_factory=dict)
    images: dict[str, dict[str, Value]] = field(default_factory=dict)

    def where(self, key: str, image: str = "") -> str:
        found = self.images[image][key] if image else self.defaults[key]
        return f"{self.path}:{found.line}"

    def get(self, key: str, default: Any = None) -> Any:
        return self.defaults[key].value if key in self.defaults else default

    def overrides(self, given: Callable[[str], bool] = lambda _: False,
                  flagged: Callable[[str], set[str]] = lambda _: set()) -> tuple[tuple[str, ImageOverride], ...]:
        """The per-image sections as the spec takes them, less what the command line gave: a key
        whose flag (build's parameter name) was given, or a table's keys its flag named."""
        out = []
        for path, keys in self.images.items():
            v: dict[str, Any] = {}
            for k, x in keys.items():
                param = IMAGE_PARAMS[k]
                if IMAGE_KEYS[k] == TABLE:
                    v[k] = {n: val for n, val in x.value.items() if n not in flagged(param)}
                elif not given(param):
                    v[k] = x.value
            out.append((path, ImageOverride(
                binary_name=v.get("binary-name"), ldflags=v.get("ldflags"), env=tuple(v.get("env", {}).items()),
                runtime_env=tuple(v.get("runtime-env", {}).items()), labels=tuple(v.get("labels", {}).items()),
                annotations=tuple(v.get("annotations", {}).items()),
                args=tuple(v["args"]) if "args" in v else None, data_dir=v.get("data"), zoneinfo=v.get("zoneinfo"))))
        return tuple(out)


def find(sources: tuple[str, ...], cwd: Path) -> Path | None:
    """leango.toml at the root of the module the first SOURCE is in (walking up to go.mod)."""
    first = (sources or (".",))[0].removesuffix("...").rstrip("/") or "."
    start = (cwd / first).resolve()
    for d in [start, *start.parents]:
        if (d / "go.mod").is_file():
            found = d / FILE_NAME
            return found if found.is_file() else None
    return None


def load(path: Path) -> Config:
    try:
        text = path.read_text()
    except OSError as exc:
        raise SpecError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 text") from exc
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: {exc}", "see https://toml.io") from exc
    lines = _Lines(text)
    base = path.parent
    defaults: dict[str, Value] = {}
    images: dict[str, dict[str, Value]] = {}
    for key, value in doc.items():
        if key == "images":
            if not isinstance(value, dict):
                raise SpecError(f"{path}:{lines.of('', key)}: images: expected sections [images.\"IMPORT/PATH\"]")
            for import_path, section in value.items():
                header = f'images."{import_path}"'
                if not isinstance(section, dict):
                    raise SpecError(f"{path}:{lines.of('', 'images')}: images.{import_path}: expected a section")
                images[import_path] = {
                    k: _checked(path, lines.of(header, k), f"[{header}] {k}", IMAGE_KEYS, k, v, base)
                    for k, v in section.items()}
            continue
        defaults[key] = _checked(path, lines.of("", key), key, DEFAULTS, key, value, base)
    return Config(path, defaults, images)


def _checked(path: Path, line: int, name: str, known: dict[str, str], key: str, value: Any, base: Path) -> Value:
    where = f"{path}:{line}: {name}"
    if key not in known:
        raise SpecError(f"{where}: unknown key", "known: " + ", ".join(sorted(known)))
    kind = known[key]
    ok: Callable[[Any], bool] = {
        STR: lambda v: isinstance(v, str), BOOL: lambda v: isinstance(v, bool), PATH: lambda v: isinstance(v, str),
        STRS: _strings, PATHS: _strings, STR_OR_STRS: lambda v: isinstance(v, str) or _strings(v),
        TABLE: lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
    }[kind]
    if not ok(value):
        raise SpecError(f"{where}: expected {_EXPECTED[kind]}, got {_toml_type(value)}")
    for text in _texts(value):
        template.check(text, where)
    if key in ("env", "runtime-env"):
        for k in value:
            if not _ENV_KEY.fullmatch(k):
                raise SpecError(f"{where}: invalid environment variable name {k!r}")
            if key == "env" and k in CONTROLLED:
                raise SpecError(f"{where}: {k} is not allowed: leango sets it ({CONTROLLED[k]})")
    if kind == PATH:  # relative to the file's directory
        value = base / value
    elif kind == PATHS:
        value = [base / v for v in value]
    return Value(value, line)


def _strings(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    if isinstance(value, dict):
        return [v for v in value.values() if isinstance(v, str)]
    return []


def _toml_type(v: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "an array",
            dict: "a table"}.get(type(v), type(v).__name__)


class _Lines:
    """Where a key is, for messages: tomllib keeps no positions, so the text is scanned (a key at
    the start of a line, in the table whose header came last; dotted and inline forms count)."""

    _HEADER = re.compile(r"^\s*\[\s*(.+?)\s*\]\s*(#.*)?$")

    def __init__(self, text: str):
        self.lines = text.splitlines()

    def of(self, table: str, key: str) -> int:
        current = ""
        want = _normal(table)
        for n, line in enumerate(self.lines, 1):
            m = self._HEADER.match(line)
            if m and not line.lstrip().startswith("[["):
                current = _normal(m.group(1))
                if current == want and not key:
                    return n
                continue
            if current == want and re.match(rf'^\s*("{re.escape(key)}"|\'{re.escape(key)}\'|{re.escape(key)})\s*[=.]',
                                            line):
                return n
            if not want and current == "" and line.lstrip().startswith(f"{key}."):
                return n
        if table:  # a key of a section written inline or dotted: the section's header, or its first mention
            for n, line in enumerate(self.lines, 1):
                if _normal(table).split(".")[0] in line:
                    return n
        return 0


def _normal(header: str) -> str:
    """A table header with its whitespace and quoting made canonical: images."a/b" either way."""
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([^.\s]+)', header)
    return ".".join(next(p for p in groups if p) if any(groups) else "" for groups in parts)


# build's parameters (click's names) and the top-level keys that give their defaults
FLAG_KEYS = {
    "repo": "repository", "tags": "tags", "platforms": "platforms", "user": "user", "compression": "compression",
    "ldflags": "ldflags", "build_tags": "build-tags", "env": "env", "labels": "labels", "annotations": "annotations",
    "runtime_env": "runtime-env", "args": "args", "ca_bundle": "ca-bundle", "ca_certs": "ca-certs",
    "cache_from": "cache-from", "cache_to": "cache-to", "sbom_formats": "sbom", "provenance": "provenance",
    "zoneinfo": "zoneinfo",
}
# What each is when neither a flag nor the file sets it (leango config shows these).
BUILT_IN = {
    "repository": "", "tags": ["latest"], "user": "65532:65532", "compression": "gzip", "ldflags": "",
    "build-tags": [], "env": {}, "labels": {}, "annotations": {}, "runtime-env": {}, "args": [],
    "ca-bundle": "", "ca-certs": [], "cache-from": [], "cache-to": "", "sbom": ["spdx"], "provenance": False,
    "zoneinfo": False,
}


def apply(cfg: Config, params: dict[str, Any], given: Callable[[str], bool]) -> dict[str, Any]:
    """build's parameters with the file's defaults where the command line gave none: a string,
    flag or list the command line gave replaces the file's; a table's keys are added to the
    flag's KEY=VALUE items (the flag's win)."""
    out = dict(params)
    for name, key in FLAG_KEYS.items():
        if key not in cfg.defaults:
            continue
        value, kind = cfg.defaults[key].value, DEFAULTS[key]
        if kind == TABLE:
            flagged = tuple(params.get(name) or ())
            keys = {item.partition("=")[0] for item in flagged}
            out[name] = tuple(f"{k}={v}" for k, v in value.items() if k not in keys) + flagged
        elif given(name):
            continue
        elif kind == STR_OR_STRS:
            out[name] = value if isinstance(value, str) else ",".join(value)
        elif kind in (STRS, PATHS):
            out[name] = tuple(value)
        else:
            out[name] = value
    return out


def effective(cfg: Config | None, environ: dict[str, str], host: str) -> dict[str, tuple[Any, str]]:
    """Each top-level setting: (value, where it came from) — the file's line, LEANGO_REPO, or
    the built-in default."""
    out: dict[str, tuple[Any, str]] = {}
    for key in DEFAULTS:
        if key == "repository" and environ.get("LEANGO_REPO"):
            out[key] = (environ["LEANGO_REPO"], "LEANGO_REPO")
        elif cfg is not None and key in cfg.defaults:
            out[key] = (plain(cfg.defaults[key].value), f"{cfg.path.name}:{cfg.defaults[key].line}")
        else:
            out[key] = ([host] if key == "platforms" else BUILT_IN[key], "default")
    return out


def plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def toml_value(value: Any) -> str:
    """A value as TOML writes it (strings as JSON writes them: the same escapes)."""
    import json
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | Path):
        return json.dumps(str(value))
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        keys = (k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k) for k in value)
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in zip(keys, value.values(), strict=True)) + " }"
    return json.dumps(value)
