"""Parse and validate image references: [registry/]repository[:tag][@digest].

Follows the grammar of distribution/reference (reference.go): lowercase path
components, tags of at most 128 word characters, names of at most 255
characters. Everything is validated before any path or URL is built from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .digest import Digest
from .errors import DigestError, InvalidReference

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
)
# ASCII only: Python's \w would match Unicode letters, which the distribution grammar does not.
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", re.ASCII)
DOCKER_HUB = "docker.io"
MAX_NAME = 255


@dataclass(frozen=True)
class Reference:
    registry: str
    repository: str
    tag: str = ""
    digest: Digest | None = None

    @property
    def name(self) -> str:
        """registry/repository, as written by users (docker.io kept explicit)."""
        return f"{self.registry}/{self.repository}"

    def with_digest(self, digest: Digest) -> Reference:
        return Reference(self.registry, self.repository, self.tag, digest)

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    # distribution/reference: the first component is a registry host when it
    # has a '.' or ':' or is "localhost" (or has an uppercase letter).
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        return first, rest
    if "/" not in name:
        return DOCKER_HUB, f"library/{name}"
    return DOCKER_HUB, name


def parse_reference(text: str, *, default_tag: str = "latest") -> Reference:
    """Parse text or raise InvalidReference saying what is wrong."""
    if not text or text != text.strip():
        raise InvalidReference(f"invalid image reference {text!r}: empty or has whitespace")
    remainder, at, digest_text = text.partition("@")
    digest = None
    if at:
        try:
            digest = Digest.parse(digest_text)
        except DigestError as exc:
            raise InvalidReference(f"invalid image reference {text!r}: {exc}") from exc
    tag = ""
    name = remainder
    colon = remainder.rfind(":")
    if colon > remainder.rfind("/"):
        name, tag = remainder[:colon], remainder[colon + 1:]
        if not _TAG.fullmatch(tag):
            raise InvalidReference(
                f"invalid tag {tag!r} in {text!r}: at most 128 of [A-Za-z0-9_.-], not starting with '.' or '-'")
    registry, repository = _split_domain(name)
    if not _DOMAIN.fullmatch(registry):
        raise InvalidReference(f"invalid registry {registry!r} in {text!r}")
    if not _PATH.fullmatch(repository):
        raise InvalidReference(
            f"invalid repository {repository!r} in {text!r}: lowercase letters, digits and separators (. _ __ -) only")
    if len(name) > MAX_NAME:
        raise InvalidReference(f"invalid image reference {text!r}: name longer than {MAX_NAME} characters")
    if not tag and digest is None:
        tag = default_tag
    return Reference(registry, repository, tag, digest)
