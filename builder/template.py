"""The small template language of --ldflags (and of leango.toml's values), as ko templates
`.ko.yaml`: `{{ .Env.NAME }}`, `{{ .Git.Tag }}`, `{{ .Git.ShortCommit }}`, `{{ .Git.FullCommit }}`,
`{{ .Date }}` and `{{ .Timestamp }}`. Not a template engine: those names and nothing else, each
an error when it has no value (an unset variable, no git work tree, no tag), so a release never
carries an empty version by accident.

`.Date` (RFC 3339, UTC) and `.Timestamp` (Unix seconds) are SOURCE_DATE_EPOCH when it is set,
else the time of the build: a build that embeds them without SOURCE_DATE_EPOCH is not
reproducible, which `leango build --check-reproducible` shows.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..oci.config import rfc3339
from .errors import SpecError

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")
_ENV = re.compile(r"\.Env\.([A-Za-z_][A-Za-z0-9_]*)")
NAMES = (".Env.NAME", ".Git.Tag", ".Git.ShortCommit", ".Git.FullCommit", ".Date", ".Timestamp")


@dataclass(frozen=True)
class Context:
    """What the names stand for. git() is asked only when a .Git name is used: (full commit,
    tag) of the work tree holding the module, None outside one."""
    environ: Mapping[str, str]
    git: Callable[[], tuple[str, str] | None]
    epoch: int = 0  # SOURCE_DATE_EPOCH; 0: now
    now: Callable[[], float] = time.time


def has_templates(text: str) -> bool:
    return "{{" in text


def expand(text: str, context: Context, where: str) -> str:
    """text with every action replaced; SpecError naming where (the flag or the key) otherwise."""
    if "{{" not in text:
        return text
    out, pos = [], 0
    for m in _ACTION.finditer(text):
        out.append(text[pos:m.start()])
        out.append(_value(m.group(1), context, where))
        pos = m.end()
    rest = text[pos:]
    if "{{" in rest:  # a lone }} is text, as in Go's templates
        raise SpecError(f"{where}: an unclosed template action in {text!r}", "templates are {{ .NAME }}")
    out.append(rest)
    return "".join(out)


def check(text: str, where: str) -> None:
    """SpecError naming where when text uses a name the language does not have (or leaves an
    action open); whether each has a value is known only at build time."""
    if "{{" not in text:
        return
    for m in _ACTION.finditer(text):
        name = m.group(1)
        if not (_ENV.fullmatch(name) or name in NAMES[1:]):
            raise SpecError(f"{where}: unknown template name {{{{ {name} }}}}", f"known: {', '.join(NAMES)}")
    if "{{" in _ACTION.sub("", text):
        raise SpecError(f"{where}: an unclosed template action in {text!r}", "templates are {{ .NAME }}")


def _value(name: str, context: Context, where: str) -> str:
    env = _ENV.fullmatch(name)
    if env:
        if env.group(1) not in context.environ:
            raise SpecError(f"{where}: {{{{ {name} }}}} names {env.group(1)}, which is not set")
        return context.environ[env.group(1)]
    if name in (".Date", ".Timestamp"):
        seconds = context.epoch or int(context.now())
        return rfc3339(seconds) if name == ".Date" else str(seconds)
    if name in (".Git.Tag", ".Git.ShortCommit", ".Git.FullCommit"):
        found = context.git()
        if found is None:
            raise SpecError(f"{where}: {{{{ {name} }}}} needs a git work tree, and the module is not in one")
        commit, tag = found
        if name == ".Git.Tag":
            if not tag:
                raise SpecError(f"{where}: {{{{ .Git.Tag }}}}: no tag at HEAD",
                                "tag the commit, or use .Git.ShortCommit")
            return tag
        return commit[:7] if name == ".Git.ShortCommit" else commit
    raise SpecError(f"{where}: unknown template name {{{{ {name} }}}}", f"known: {', '.join(NAMES)}")
