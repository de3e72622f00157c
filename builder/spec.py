"""BuildSpec: the frozen, validated options of one build."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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
    from .sign import Signer
from .gobuild import CONTROLLED
from .isolation import ISOLATIONS
from .platform import host_platform

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


_PORT = re.compile(r"([0-9]{1,5})(?:/(tcp|udp|sctp))?")
_SIGNAL = re.compile(r"SIG[A-Z0-9+-]+|[0-9]{1,2}")


@dataclass(frozen=True)
class ImageSettings:
    """What goes into each image besides the binary: its runtime settings, annotations and
    extra files. Each is part of the no-change key (record.py)."""
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()  # each image's manifest
    index_annotations: tuple[tuple[str, str], ...] = ()  # the index's (--annotation index:K=V)
    runtime_env: tuple[tuple[str, str], ...] = ()  # the image's Env (--env is the build's)
    args: tuple[str, ...] = ()  # the image's Cmd, after the entrypoint
    workdir: str = ""
    expose: tuple[str, ...] = ()  # PORT/PROTO
    stop_signal: str = ""
    data_dir: Path | None = None  # copied under DATA_PATH, LEANGO_DATA_PATH set
    zoneinfo: bool = False  # the toolchain's lib/time/zoneinfo.zip, ZONEINFO set

    def __post_init__(self) -> None:
        for key, _ in self.runtime_env:
            if not _ENV_KEY.fullmatch(key):
                raise SpecError(f"invalid --runtime-env name {key!r}")
        for name, pairs in (("--label", self.labels), ("--annotation", self.annotations),
                            ("--annotation index:", self.index_annotations)):
            for key, _ in pairs:
                if not key or key != key.strip():
                    raise SpecError(f"{name} {key!r}: a key must be non-empty, without surrounding spaces")
        normalised = []
        for port in self.expose:
            m = _PORT.fullmatch(port.lower())
            if not m or not 1 <= int(m.group(1)) <= 65535:
                raise SpecError(f"--expose {port!r}: expected PORT[/tcp|udp|sctp], PORT 1-65535")
            normalised.append(f"{int(m.group(1))}/{m.group(2) or 'tcp'}")
        object.__setattr__(self, "expose", tuple(dict.fromkeys(normalised)))
        if self.workdir and not self.workdir.startswith("/"):
            raise SpecError(f"--workdir {self.workdir!r} must be an absolute path")
        if self.stop_signal and not _SIGNAL.fullmatch(self.stop_signal):
            raise SpecError(f"--stop-signal {self.stop_signal!r}: a signal name such as SIGINT, or a number")
        if self.data_dir is not None:
            if not self.data_dir.is_dir():
                raise SpecError(f"--data {self.data_dir}: not a directory")
            for path in self.data_dir.rglob("*"):
                if path.is_symlink():
                    check_data_link(self.data_dir, path)

    @property
    def extra_layer(self) -> bool:
        return self.data_dir is not None or self.zoneinfo

    def with_defaults(self, annotations: tuple[tuple[str, str], ...]) -> ImageSettings:
        """These settings with annotations added to each manifest and the index, where the
        command line did not set the same key (its value wins)."""
        def merged(given: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
            keys = {k for k, _ in given}
            return tuple((k, v) for k, v in annotations if k not in keys) + given
        return replace(self, annotations=merged(self.annotations), index_annotations=merged(self.index_annotations))

    def key(self) -> dict[str, object]:
        """The settings as the no-change key sees them (the data directory's files are hashed apart)."""
        return {"labels": self.labels, "annotations": self.annotations, "index_annotations": self.index_annotations,
                "runtime_env": self.runtime_env, "args": self.args, "workdir": self.workdir, "expose": self.expose,
                "stop_signal": self.stop_signal, "data_dir": str(self.data_dir or ""), "zoneinfo": self.zoneinfo}


Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ImageOverride:
    """leango.toml's settings for one main package (its `[images."IMPORT/PATH"]` section), over
    the build's: a string or flag replaces, a table adds keys (its values win), None leaves as is."""
    binary_name: str | None = None
    ldflags: str | None = None
    env: tuple[tuple[str, str], ...] = ()  # added to the build's --env
    runtime_env: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    args: tuple[str, ...] | None = None
    data_dir: Path | None = None
    zoneinfo: bool | None = None

    def key(self) -> list[object]:
        return [self.binary_name, self.ldflags, [list(e) for e in self.env], self.image_key()]

    def image_key(self) -> list[object]:
        return [[list(e) for e in self.runtime_env], [list(e) for e in self.labels],
                [list(e) for e in self.annotations], list(self.args) if self.args is not None else None,
                str(self.data_dir) if self.data_dir else None, self.zoneinfo]

    def apply(self, image: ImageSettings) -> ImageSettings:
        def over(base: Pairs, extra: Pairs) -> Pairs:
            return tuple((dict(base) | dict(extra)).items())
        return replace(image, runtime_env=over(image.runtime_env, self.runtime_env),
                       labels=over(image.labels, self.labels),
                       annotations=over(image.annotations, self.annotations),
                       args=image.args if self.args is None else self.args,
                       data_dir=image.data_dir if self.data_dir is None else self.data_dir,
                       zoneinfo=image.zoneinfo if self.zoneinfo is None else self.zoneinfo)


@dataclass(frozen=True)
class Attestations:
    """What each build attaches to its images as referrers (docs/supply-chain.md): an SBOM per
    platform image in each format, and the build's SLSA provenance. They go to registries
    always; to layouts and archives only when `local` (asked for on the command line): skopeo and
    podman refuse a layout or archive whose index.json holds more than one manifest unless told
    which one, so by default those stay one image."""
    sbom: tuple[str, ...] = ("spdx",)
    provenance: bool = False
    local: bool = False

    def __post_init__(self) -> None:
        from .sbom import FORMATS  # here, not at import: spec is read on every start
        unknown = [f for f in self.sbom if f not in FORMATS]
        if unknown:
            raise SpecError(f"unknown SBOM format {unknown[0]!r}", "choose spdx, cyclonedx or both")

    @property
    def any(self) -> bool:
        return bool(self.sbom) or self.provenance


def check_data_link(root: Path, link: Path) -> str:
    """The link's target, when it stays inside root (relative, never climbing out); else SpecError."""
    import os
    rel = link.relative_to(root).as_posix()
    target = os.readlink(link)
    inside = os.path.normpath(os.path.join(os.path.dirname(rel), target))
    if os.path.isabs(target) or inside == ".." or inside.startswith("../"):
        raise SpecError(f"--data {root}: {rel} links to {target}, outside the directory",
                        "data files may link only to each other, with relative links")
    return target


def parse_pairs(flag: str, items: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """KEY=VALUE items of a repeatable flag, in order (a later KEY replaces an earlier one)."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SpecError(f"{flag} {item!r} is not KEY=VALUE")
        out[key] = value
    return tuple(out.items())


@dataclass(frozen=True)
class Outputs:
    oci_layout: Path | None = None
    oci_archive: Path | None = None
    tarball: Path | None = None
    # --load: "podman", "containerd" or "containerd=NAMESPACE" (load.py), each at most once
    load: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("oci_layout", "oci_archive", "tarball"):  # a str is taken as a path
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))
        if isinstance(self.load, str):
            object.__setattr__(self, "load", (self.load,))
        from .load import LoadTarget
        stores = [LoadTarget.parse(each).store for each in self.load]
        if len(set(stores)) != len(stores):
            raise SpecError("--load names one store twice", "give podman and containerd at most once each")

    @property
    def any(self) -> bool:
        return any((self.oci_layout, self.oci_archive, self.tarball, self.load))


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
    sources: tuple[str, ...] = (".",)
    cache_dir: Path = field(default_factory=lambda: default_cache_dir())
    platforms: tuple[Platform, ...] = field(default_factory=lambda: (host_platform(),))
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
    # org.opencontainers.image.source/revision/version from the git work tree holding the module,
    # .created from source_date_epoch (when set); --no-source-annotations turns them off
    source_annotations: bool = True
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
    image: ImageSettings = field(default_factory=ImageSettings)  # labels, runtime env, data files…
    attest: Attestations = field(default_factory=Attestations)  # SBOMs and provenance, as referrers
    signer: Signer | None = None  # --sign-key: what is pushed is signed where cosign looks (sign.py)
    # --check-reproducible: build again in a fresh container with empty Go caches before anything
    # is written, and fail naming the first differing file when the digests differ (reproduce.py)
    check_reproducible: bool = False
    # The Go build and module caches, when not the ones under cache_dir/go (the check's second
    # build gets empty ones)
    go_build_cache: Path | None = None
    go_mod_cache: Path | None = None
    # Seconds added to the clock {{ .Date }} and {{ .Timestamp }} read (the check's second build)
    clock_offset: float = 0
    # leango.toml's per-image sections, by import path (config.py)
    per_image: tuple[tuple[str, ImageOverride], ...] = ()

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

    def override(self, import_path: str) -> ImageOverride | None:
        return dict(self.per_image).get(import_path)

    def for_package(self, import_path: str) -> BuildSpec:
        """This spec as it applies to one main package: leango.toml's section for it, if any, over it."""
        found = self.override(import_path)
        if found is None:
            return self
        return replace(self, binary_name=found.binary_name or self.binary_name,
                       ldflags=self.ldflags if found.ldflags is None else found.ldflags,
                       env=tuple((dict(self.env) | dict(found.env)).items()), image=found.apply(self.image),
                       per_image=())

    def binary_names(self) -> dict[str, str]:
        """The binary names leango.toml gives, by import path."""
        return {path: o.binary_name for path, o in self.per_image if o.binary_name}


def parse_env(items: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SpecError(f"--env {item!r} is not KEY=VALUE")
        out.append((key, value))
    return tuple(out)


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """$XDG_CACHE_HOME/leango, else ~/.cache/leango: where `leango build` keeps its caches."""
    environ = os.environ if environ is None else environ
    return Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "leango"


def parse_epoch(text: str | None) -> int:
    """SOURCE_DATE_EPOCH per reproducible-builds.org: a decimal integer of seconds."""
    if text is None or text == "":
        return 0
    if not text.isdigit():
        raise SpecError(f"SOURCE_DATE_EPOCH={text!r} is not a non-negative integer number of seconds")
    return int(text)
