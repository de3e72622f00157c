"""BuildSpec: the frozen, validated options of one build."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..oci import OciError, Platform, Reference, parse_reference
from ..oci.layer import COMPRESSIONS
from ..oci.registry.credentials import CredentialSources
from ..oci.tarfs import MAX_MTIME
from .errors import SpecError

if TYPE_CHECKING:
    from ..oci.registry.transport import RegistryOptions
    from .gocache import RemoteCache
from .gobuild import CONTROLLED
from .isolation import ISOLATIONS

_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_USER = re.compile(r"[A-Za-z0-9_.-]+(?::[A-Za-z0-9_.-]+)?")
_BUILD_TAG = re.compile(r"[A-Za-z0-9_.]+")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def check_repo(repo: str) -> str:
    """A repository prefix such as registry.example.com/team (no tag, no digest)."""
    try:
        parse_reference(f"{repo}/image")  # REPO/<binary> must parse: no tag, no digest, lower case
    except OciError as exc:
        raise SpecError(f"invalid --repo {repo!r}: {exc}") from exc
    return repo


@dataclass(frozen=True)
class Outputs:
    oci_layout: Path | None = None
    oci_archive: Path | None = None
    tarball: Path | None = None

    @property
    def any(self) -> bool:
        return any((self.oci_layout, self.oci_archive, self.tarball))


@dataclass(frozen=True)
class PushOptions:
    """Where and how to push; credentials are located, never carried, here."""
    credentials: CredentialSources = field(default_factory=CredentialSources)
    registry: RegistryOptions | None = None  # None: the defaults (TLS verified, system trust)
    mount_from: tuple[str, ...] = ()
    by_digest: bool = False  # push untagged (a matrix job's image, merged later by `index create`)


@dataclass(frozen=True)
class BuildSpec:
    """One build: SOURCE patterns of one Go module → one image (or index) per main package.

    Naming: `references` name a single image; `repo` names every image REPO/<binary>
    with each of `tags` (default "latest"), as ko's KO_DOCKER_REPO does. `go_environ`
    is the caller's environment, from which the Go settings are read (GOPROXY…);
    `download_ca` is the trust for module downloads (default: the system bundle) and
    `netrc` the credentials file for private modules, both mounted read-only for the
    download step only.
    """
    sources: tuple[str, ...]
    cache_dir: Path
    platforms: tuple[Platform, ...]
    references: tuple[Reference, ...] = ()
    repo: str = ""
    tags: tuple[str, ...] = ()
    outputs: Outputs = field(default_factory=Outputs)
    binary_name: str = ""
    ldflags: str = ""
    build_tags: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    goroot: Path | None = None
    ca_bundle: Path | None = None
    ca_certs: tuple[Path, ...] = ()
    compression: str = "gzip"
    user: str = "65532:65532"
    source_date_epoch: int = 0
    push: PushOptions | None = None
    offline: bool = False
    timeout: float | None = None
    go_environ: tuple[tuple[str, str], ...] = ()
    download_ca: Path | None = None
    netrc: Path | None = None
    cwd: Path | None = None
    reuse: bool = True  # a build whose inputs are all unchanged reuses the last images (record.py)
    remote_cache: RemoteCache | None = None  # --cache-from / --cache-to (gocache.py)
    isolation: str = "auto"  # where the go commands run: auto, chroot or none (isolation.py)

    def __post_init__(self) -> None:
        if isinstance(self.sources, str | Path):
            object.__setattr__(self, "sources", (str(self.sources),))
        if self.push is not None and not (self.references or self.repo):
            raise SpecError("--push needs --tag REF naming where to push, or --repo")
        if self.repo and self.references:
            raise SpecError("--repo names images REPO/<binary>: give --tag as plain tags (v1.2.3), "
                            "not full references")
        if self.repo:
            check_repo(self.repo)
        for tag in self.tags:
            if not _TAG.fullmatch(tag):
                raise SpecError(f"invalid tag {tag!r}", "at most 128 of [A-Za-z0-9_.-], not starting with '.' or '-'")
        if self.isolation not in ISOLATIONS:
            raise SpecError(f"unknown isolation {self.isolation!r}", "choose " + ", ".join(ISOLATIONS))
        if self.timeout is not None and self.timeout <= 0:
            raise SpecError("--timeout must be a positive number of seconds")
        if not self.platforms:
            raise SpecError("at least one platform is required")
        if len(set(self.platforms)) != len(self.platforms):
            raise SpecError("a platform is listed twice")
        if self.compression not in COMPRESSIONS or self.compression == "none":
            raise SpecError(f"unknown compression {self.compression!r}", "choose gzip or zstd")
        if not 0 <= self.source_date_epoch <= MAX_MTIME:
            raise SpecError(f"SOURCE_DATE_EPOCH must be between 0 and {MAX_MTIME} (the last second a tar "
                            "header holds)")
        if not _USER.fullmatch(self.user):
            raise SpecError(f"invalid user {self.user!r}", "use UID[:GID] or NAME[:GROUP]")
        for key, _ in self.env:
            if not _ENV_KEY.fullmatch(key):
                raise SpecError(f"invalid environment variable name {key!r}")
            if key in CONTROLLED:
                raise SpecError(f"--env {key} is not allowed: leango sets it ({CONTROLLED[key]})")
        for tag in self.build_tags:
            if not _BUILD_TAG.fullmatch(tag):
                raise SpecError(f"invalid build tag {tag!r}")


def parse_env(items: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SpecError(f"--env {item!r} is not KEY=VALUE")
        out.append((key, value))
    return tuple(out)


def parse_epoch(text: str | None) -> int:
    """SOURCE_DATE_EPOCH per reproducible-builds.org: a decimal integer of seconds."""
    if text is None or text == "":
        return 0
    if not text.isdigit():
        raise SpecError(f"SOURCE_DATE_EPOCH={text!r} is not a non-negative integer number of seconds")
    return int(text)
