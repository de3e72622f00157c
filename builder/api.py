"""`leango.build(...)` with keyword arguments that read like the flags, and the defaults of the
command line.

    import leango
    result = leango.build("./cmd/api", repo="registry.example.com/team", tags=["v1"], push=True)

The keyword form reads the environment as `leango build` does: the Go settings (GOPROXY, GOFLAGS…)
and NETRC for module downloads, SSL_CERT_FILE, the registry credentials podman and docker keep,
HTTPS_PROXY/NO_PROXY, SOURCE_DATE_EPOCH, XDG_CACHE_HOME. `build(BuildSpec(...))` reads nothing: a
spec says everything. Neither changes process-wide state.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..oci import Platform, parse_reference
from ..oci.registry.credentials import CredentialSources
from ..oci.registry.proxy import ProxyConfig
from .pipeline import BuildResult
from .pipeline import build as build_spec
from .platform import host_platform, parse_platform
from .runner import Runner
from .spec import (
    Attestations,
    BuildSpec,
    ImageSettings,
    Outputs,
    PushOptions,
    default_cache_dir,
    parse_epoch,
)

if TYPE_CHECKING:
    from ..oci.registry.transport import RegistryOptions
    from .config import Config

Pairs = Mapping[str, str]


def credential_sources(environ: Mapping[str, str]) -> CredentialSources:
    return CredentialSources.from_environ(environ, Path.home(), os.getuid())


def registry_options(environ: Mapping[str, str], insecure: Sequence[str] = (),
                     registry_ca: Path | None = None, cache_dir: Path | None = None) -> RegistryOptions:
    """The registry settings of a command; cache_dir: where `leango registry check` kept what it
    learned (a registry that takes chunked uploads only gets them)."""
    from ..oci.registry.learned import learned_chunks
    from ..oci.registry.transport import RegistryOptions  # requests loads only when a registry is used
    # SSL_CERT_FILE, as OpenSSL and Go honour it, replaces the system trust bundle.
    system_ca = Path(environ["SSL_CERT_FILE"]) if environ.get("SSL_CERT_FILE") else None
    return RegistryOptions(insecure_hosts=tuple(insecure), ca_file=registry_ca, system_ca=system_ca,
                           proxy=ProxyConfig.from_environ(environ),
                           learned_chunks=learned_chunks(cache_dir or default_cache_dir(environ)))


def netrc_file(environ: Mapping[str, str]) -> Path | None:
    """NETRC, else ~/.netrc, as the go command finds it; only a regular file is used."""
    path = Path(environ["NETRC"]) if environ.get("NETRC") else Path.home() / ".netrc"
    try:
        return path if stat.S_ISREG(os.stat(path).st_mode) else None
    except OSError:
        return None


def download_ca(environ: Mapping[str, str]) -> Path | None:
    return Path(environ["SSL_CERT_FILE"]) if environ.get("SSL_CERT_FILE") else None


def build(what: BuildSpec | str | os.PathLike[str] | Sequence[str | os.PathLike[str]] = ".",
          runner: Runner | None = None, progress: Any = None, **options: Any) -> BuildResult:
    """Build as `leango build` does. `what` is a BuildSpec (then no options: the spec says it
    all), or the SOURCE argument(s) with the options of spec_from (the flags' names)."""
    if isinstance(what, BuildSpec):
        if options:
            raise TypeError(f"build(BuildSpec) takes no options (given: {', '.join(sorted(options))}); "
                            "set them in the spec")
        return build_spec(what, runner, progress)
    return build_spec(spec_from(what, **options), runner, progress)


def spec_from(what: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] = ".", *,
              tags: Sequence[str] = (), repo: str = "", platforms: Sequence[str | Platform] = (),
              oci_layout: str | os.PathLike[str] | None = None, oci_archive: str | os.PathLike[str] | None = None,
              tarball: str | os.PathLike[str] | None = None, load: str | Sequence[str] = (), push: bool = False,
              push_by_digest: bool = False,
              insecure_registries: Sequence[str] = (), registry_ca: str | os.PathLike[str] | None = None,
              ldflags: str = "", build_tags: Sequence[str] = (), env: Pairs | None = None, binary_name: str = "",
              user: str = "65532:65532",
              compression: str = "gzip", labels: Pairs | None = None, annotations: Pairs | None = None,
              runtime_env: Pairs | None = None, args: Sequence[str] = (), sbom: Sequence[str] = ("spdx",),
              provenance: bool = False, cache_dir: str | os.PathLike[str] | None = None, offline: bool = False,
              rebuild: bool = False, check_reproducible: bool = False, cwd: str | os.PathLike[str] | None = None,
              environ: Mapping[str, str] | None = None,
              config: bool | str | os.PathLike[str] = False) -> BuildSpec:
    """The BuildSpec `leango build` makes of the same flags (tags: full references, or plain ones
    with repo; with no output and no push, a layout in ./leango-out/<binary>), reading environ
    (default: the process's) as it does."""
    environ = os.environ if environ is None else environ
    sources = (str(what),) if isinstance(what, str | os.PathLike) else tuple(str(s) for s in what)
    per_image: tuple = ()
    cfg = _config(config, sources, Path(cwd) if cwd is not None else Path.cwd())
    if cfg is not None:  # the file's settings where the arguments left their defaults
        file = cfg.get
        repo = repo or environ.get("LEANGO_REPO", "") or file("repository", "")
        tags = tags or tuple(file("tags", ()))
        platforms = platforms or tuple(file("platforms", ()))
        user = file("user", user) if user == "65532:65532" else user
        compression = file("compression", compression) if compression == "gzip" else compression
        ldflags = ldflags or file("ldflags", "")
        build_tags = build_tags or tuple(file("build-tags", ()))
        env, labels, annotations, runtime_env = ({**file(key, {}), **(given or {})} for key, given in (
            ("env", env), ("labels", labels), ("annotations", annotations), ("runtime-env", runtime_env)))
        args = args or tuple(file("args", ()))
        if tuple(sbom) == ("spdx",) and "sbom" in cfg.defaults:
            found = file("sbom")
            sbom = tuple(found.split(",")) if isinstance(found, str) else tuple(found)
        provenance = provenance or file("provenance", False)
        per_image = cfg.overrides()
    layout, archive, docker = (Path(p) if p is not None else None for p in (oci_layout, oci_archive, tarball))
    outputs = Outputs(layout, archive, docker, (load,) if isinstance(load, str) else tuple(load))
    if not outputs.any and not (push or push_by_digest):
        outputs = Outputs(oci_layout=Path("leango-out") / "{binary}")
    return BuildSpec(
        sources=sources or (".",),
        cache_dir=Path(cache_dir) if cache_dir is not None else default_cache_dir(environ),
        platforms=tuple(p if isinstance(p, Platform) else parse_platform(p) for p in platforms) or (host_platform(),),
        references=() if repo else tuple(parse_reference(t) for t in tags), repo=repo,
        tags=tuple(tags) if repo else (), outputs=outputs, binary_name=binary_name, ldflags=ldflags,
        build_tags=tuple(build_tags), env=tuple((env or {}).items()), user=user, compression=compression,
        image=ImageSettings(labels=tuple((labels or {}).items()),
                            annotations=tuple((k.removeprefix("manifest:"), v) for k, v in (annotations or {}).items()
                                              if not k.startswith("index:")),
                            index_annotations=tuple((k.removeprefix("index:"), v)
                                                    for k, v in (annotations or {}).items() if k.startswith("index:")),
                            runtime_env=tuple((runtime_env or {}).items()), args=tuple(args)),
        attest=Attestations(tuple(sbom), provenance, local=tuple(sbom) != ("spdx",) or provenance),
        source_date_epoch=parse_epoch(environ.get("SOURCE_DATE_EPOCH")),
        push=PushOptions(credential_sources(environ),
                         registry_options(environ, insecure_registries, Path(registry_ca) if registry_ca else None),
                         by_digest=push_by_digest) if push or push_by_digest else None,
        offline=offline, reuse=not rebuild, check_reproducible=check_reproducible,
        go_environ=tuple(environ.items()), download_ca=download_ca(environ), netrc=netrc_file(environ),
        cwd=Path(cwd) if cwd is not None else None, per_image=per_image)


def _config(config: bool | str | os.PathLike[str], sources: tuple[str, ...], cwd: Path) -> Config | None:
    """config=True: leango.toml at the module root, if there; a path: that file; False: none."""
    from . import config as settings
    if config is False:
        return None
    path = settings.find(sources, cwd) if config is True else Path(config)
    return settings.load(path) if path is not None else None
