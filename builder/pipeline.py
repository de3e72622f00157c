"""The short loop: spec → go list, download, compile (in one throwaway container) → containerize → sinks."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import certifi

from ..oci import Image, Index, Platform, Reference, parse_reference
from ..oci.artifact import Artifact
from ..oci.digest import Digest
from ..oci.manifest import Manifest
from ..oci.referrers import Tagged
from ..oci.sinks.archive import OciArchiveSink
from ..oci.sinks.base import Sink, SinkResult
from ..oci.sinks.docker_archive import DockerArchiveSink
from ..oci.sinks.layout import LayoutSink
from ..oci.trust import system_ca_file
from . import attest, cacheremote, gobuild, gocache, provenance, record, reproduce, template
from .buildah import BuildahSession, Storage
from .containerize import AppBinary, BaseOptions, build_base_layer, containerize
from .containers import remove_stale, remove_tree
from .elf import check_static, is_elf
from .errors import BuildError, CompileError, DownloadError, SourceError, SpecError
from .goenv import GoEnv, read_go_env
from .gorun import GoPackage, GoSteps, Paths, Target, modules_cached, targets
from .isolation import HostSession, IsolationError, fallback_reason
from .platform import elf_machine, host_platform
from .runner import Runner, SubprocessRunner
from .source import ModuleSources, declares_main, locate, module_path
from .spec import BuildSpec, Pairs
from .toolchain import Toolchain, find_toolchain

if TYPE_CHECKING:  # the registry client (and requests) loads only when pushing
    from ..oci.registry.upload import Progress
    from ..oci.sinks.registry import PushResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageBuild:
    """One main package's image (an index when several platforms) and what was written."""
    binary: str
    package: str  # the Go import path
    artifact: Image | Index
    references: tuple[Reference, ...]
    written: tuple[SinkResult, ...] = ()

    @property
    def digest(self) -> Digest:
        return self.artifact.digest

    @property
    def outputs(self) -> dict[str, str]:
        """Offline outputs written: kind → path."""
        return {r.kind: r.location for r in self.written if r.is_file}

    @property
    def pushed(self) -> tuple[PushResult, ...]:
        return tuple(p for r in self.written for p in r.pushed)


@dataclass(frozen=True)
class BuildResult:
    builds: tuple[ImageBuild, ...]
    toolchain: Toolchain

    @property
    def single(self) -> ImageBuild:
        if len(self.builds) != 1:
            raise ValueError(f"this build made {len(self.builds)} images; use .builds")
        return self.builds[0]

    @property
    def artifact(self) -> Image | Index:
        return self.single.artifact

    @property
    def digest(self) -> Digest:
        return self.single.digest

    @property
    def references(self) -> tuple[Reference, ...]:
        return self.single.references

    @property
    def outputs(self) -> dict[str, str]:
        return self.single.outputs

    @property
    def pushed(self) -> tuple[PushResult, ...]:
        return self.single.pushed


def ca_bundle(spec: BuildSpec) -> bytes:
    """The CA bundle for the base layer: certifi's (or --ca-bundle) plus --ca-cert files."""
    paths = [spec.ca_bundle or Path(certifi.where()), *spec.ca_certs]
    parts = []
    for path in paths:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise SpecError(f"cannot read CA file {path}: {exc.strerror}") from exc
        if b"-----BEGIN CERTIFICATE-----" not in data:
            raise SpecError(f"{path} contains no PEM certificate")
        parts.append(data if data.endswith(b"\n") else data + b"\n")
    return b"".join(parts)


@dataclass(frozen=True)
class Job:
    """One build: the spec and what build() resolved from it once, handed to every step."""
    spec: BuildSpec
    runner: Runner
    sources: ModuleSources
    toolchain: Toolchain
    go: GoEnv
    base: BaseOptions
    progress: Progress | None = None
    git: provenance.Source | None = None  # the git work tree holding the module, when it is one
    given: BuildSpec | None = None  # the spec before build() filled in annotations and templates

    @property
    def layers_dir(self) -> Path:
        return self.spec.cache_dir / "layers"

    def input_key(self) -> str | None:
        return record.input_key(self.spec, self.sources, self.toolchain, self.go, self.base)


def build(spec: BuildSpec, runner: Runner | None = None, progress: Progress | None = None) -> BuildResult:
    """Build spec: each image assembled, written to its outputs and pushed (runner: every command
    leango executes goes through it; default a SubprocessRunner)."""
    runner = runner or SubprocessRunner()
    if spec.outputs.load:  # podman or ctr missing: said before the compile, not after
        from .load import LoadTarget
        for each in spec.outputs.load:
            LoadTarget.parse(each).program()
    given = spec  # as the caller gave it: --check-reproducible builds it again, templates and all
    sources = locate(spec.sources, spec.cwd or Path.cwd())
    # The git state, read once: for the image's annotations, the provenance and {{ .Git.* }}.
    texts = _template_texts(spec)
    wants_git = spec.source_annotations or spec.attest.provenance or any(".Git." in t for t in texts)
    git = provenance.git_source(sources.module_root) if wants_git else None
    if any(template.has_templates(t) for t in texts):  # expanded for each build: {{ .Date }} is this build's
        context = template.Context(dict(spec.go_environ), lambda: (git.commit, git.tag) if git else None,
                                   spec.source_date_epoch, lambda: time.time() + spec.clock_offset)
        spec = _expand_templates(spec, context)
    if spec.source_annotations:
        spec = replace(spec, image=spec.image.with_defaults(provenance.source_annotations(git, spec.source_date_epoch)))
    toolchain = find_toolchain(runner, spec.goroot)
    go = read_go_env(runner, toolchain, dict(spec.go_environ))
    base = BaseOptions(ca_bundle(spec), spec.compression, spec.source_date_epoch)
    # Containers of killed runs go, whether or not this run needs one: beside the build.
    stale = threading.Thread(target=remove_stale, args=(runner, Storage.under(spec.cache_dir)),
                             name="remove-stale")
    stale.start()
    try:
        return _build(Job(spec, runner, sources, toolchain, go, base, progress, git, given))
    finally:
        stale.join()


def _stage(job: Job, name: str, detail: str = "") -> None:
    """Tell the progress display (one with a stage method: report.Progress) what the build does now."""
    stage = getattr(job.progress, "stage", None)
    if stage is not None:
        stage(name, detail)


def _template_texts(spec: BuildSpec) -> list[str]:
    """Every value templates may be in: --ldflags, --env, the image's labels, annotations,
    runtime env and args, and the same in leango.toml's per-image sections."""
    def of_image(labels: Pairs, annotations: Pairs, runtime_env: Pairs, args: Sequence[str] | None) -> list[str]:
        return [v for _, v in (*labels, *annotations, *runtime_env)] + list(args or ())
    image = spec.image
    out = [spec.ldflags, *(v for _, v in spec.env),
           *of_image(image.labels, (*image.annotations, *image.index_annotations), image.runtime_env, image.args)]
    for _, o in spec.per_image:
        out += [o.ldflags or "", *(v for _, v in o.env), *of_image(o.labels, o.annotations, o.runtime_env, o.args)]
    return out


def _expand_templates(spec: BuildSpec, context: template.Context) -> BuildSpec:
    def text(value: str, where: str) -> str:
        return template.expand(value, context, where)

    def pairs(items: tuple[tuple[str, str], ...], where: str) -> tuple[tuple[str, str], ...]:
        return tuple((k, text(v, f"{where} {k}")) for k, v in items)

    image = spec.image
    image = replace(image, labels=pairs(image.labels, "--label"), annotations=pairs(image.annotations, "--annotation"),
                    index_annotations=pairs(image.index_annotations, "--annotation index:"),
                    runtime_env=pairs(image.runtime_env, "--runtime-env"),
                    args=tuple(text(a, "--arg") for a in image.args))
    per_image = []
    for path, o in spec.per_image:
        where = f'leango.toml [images."{path}"]'
        per_image.append((path, replace(
            o, ldflags=text(o.ldflags, f"{where} ldflags") if o.ldflags is not None else None,
            env=pairs(o.env, f"{where} env"), runtime_env=pairs(o.runtime_env, f"{where} runtime-env"),
            labels=pairs(o.labels, f"{where} labels"), annotations=pairs(o.annotations, f"{where} annotations"),
            args=tuple(text(a, f"{where} args") for a in o.args) if o.args is not None else None)))
    return replace(spec, ldflags=text(spec.ldflags, "--ldflags"), env=pairs(spec.env, "--env"), image=image,
                   per_image=tuple(per_image))


def _build(job: Job) -> BuildResult:
    spec = job.spec
    key = job.input_key() if spec.reuse else None
    images = record.load(spec.cache_dir, key, spec, job.layers_dir) if key else None
    if images is not None:
        log.info("nothing changed since the last build with these inputs: reusing its images "
                 "(no container started; --rebuild to compile anyway)")
    else:
        images = _build_images(job)
        # A file saved while Go compiled would make the record say "these inputs gave that image":
        # the inputs are taken again, and a record is kept only when they did not move.
        if key and job.input_key() == key:
            record.save(spec.cache_dir, key, images)
        elif key:
            log.info("an input changed during the build: no build record kept (the next build compiles)")
    _check_naming(spec, [r.binary for r in images])
    builds = []
    if spec.check_reproducible:  # before anything is written or pushed
        reproduce.check(job.given or spec, lambda again: [b.artifact for b in build(again, job.runner).builds],
                        [made.artifact for made in images], remove_tree)
    for made in images:
        refs = references_for(spec, made.binary)
        # Made only where they will be written: a push, or local outputs asked for them.
        local = spec.attest.local or spec.signer is not None
        attached = attest.attachments(job, made, refs) if spec.push is not None or local else []
        signed = _signatures(spec, made.artifact, attached, refs, made.binary) if spec.signer is not None else []
        _stage(job, "write" if spec.push is None else "write and upload", made.binary)
        written = write_sinks(output_sinks(spec, job.progress, made.binary), made.artifact, refs,
                              [*attached, *signed], local)
        if spec.push is not None and spec.push.by_digest:  # what was pushed: REPO@DIGEST, no tag
            refs = tuple(dict.fromkeys(Reference(r.registry, r.repository) for r in refs))
        builds.append(ImageBuild(made.binary, made.package, made.artifact,
                                 tuple(r.with_digest(made.artifact.digest) for r in refs), tuple(written)))
    remote = spec.remote_cache
    if remote is not None and remote.cache_to is not None:  # after the images: they never wait on it
        with _cache_store(spec) as store:
            log.info("%s", cacheremote.save(remote, cache_key(spec, job.toolchain), _build_cache(spec), store))
    return BuildResult(tuple(builds), job.toolchain)


def _signatures(spec: BuildSpec, artifact: Artifact, attached: list[Manifest], refs: Sequence[Reference],
                binary: str) -> list[Tagged]:
    """Signatures of the image and attestations of its SBOM and provenance, written with it where
    cosign looks (the .sig and .att tags). The payload names the first repository the image goes
    to (cosign checks the digest it names, not the repository: a copy elsewhere still verifies)."""
    from . import sign
    assert spec.signer is not None
    identity = f"{refs[0].registry}/{refs[0].repository}" if refs else binary
    made = sign.signatures(spec.signer, identity, artifact, attached)
    log.info("signed %s (and its attestations) with %s", artifact.digest, spec.signer.source)
    return made


def cache_key(spec: BuildSpec, toolchain: Toolchain) -> gocache.CacheKey:
    return gocache.CacheKey(toolchain.version, str(host_platform()), tuple(sorted(str(p) for p in spec.platforms)))


def _build_cache(spec: BuildSpec) -> Path:
    """The Go build cache this build mounts. A build that pulls --cache-from gets one of its own
    for those references, so that pulled entries never reach the local cache: a later build
    without --cache-from (a release build, say) never compiles against them."""
    remote = spec.remote_cache
    if remote is not None and remote.cache_from:
        refs = "\n".join(sorted(str(r) for r in remote.cache_from))
        return spec.cache_dir / "go" / "go-build-pulled" / hashlib.sha256(refs.encode()).hexdigest()[:16]
    return spec.go_build_cache or spec.cache_dir / "go" / "go-build"


def _cache_store(spec: BuildSpec) -> AbstractContextManager[gocache.Store]:
    return gocache.Store.locked(spec.cache_dir / "gocache")


def _build_images(job: Job) -> list[record.RecordedImage]:
    spec = job.spec
    (spec.cache_dir / "work").mkdir(parents=True, exist_ok=True)
    # --timeout bounds the pull of the registry cache and the work in the container together.
    deadline = time.monotonic() + spec.timeout if spec.timeout else None
    with tempfile.TemporaryDirectory(prefix="build-", dir=spec.cache_dir / "work") as tmp:
        if spec.remote_cache is not None and spec.remote_cache.cache_from:
            _build_cache(spec).mkdir(parents=True, exist_ok=True)
            with _cache_store(spec) as store:
                cacheremote.restore(spec.remote_cache, cache_key(spec, job.toolchain), _build_cache(spec), store,
                                deadline)
        compiled = _compile_isolated(job, Path(tmp), deadline)
        try:
            # The working container is removed (in the background) while the images are assembled.
            base_layer = build_base_layer(job.base, job.layers_dir)
            images = []
            for target, binaries in compiled:
                _stage(job, "assemble", target.binary)
                for binary in binaries:
                    check_static(binary.path, elf_machine(binary.platform), f"{target.binary} ({binary.platform})")
                artifact = containerize(binaries, job.base, job.layers_dir, user=spec.user, base_layer=base_layer,
                                        settings=spec.for_package(target.package.import_path).image,
                                        goroot=job.toolchain.goroot)
                images.append(record.RecordedImage(target.binary, target.package.import_path, artifact))
        finally:
            compiled.session.wait_removed()
    return images


@dataclass
class _Compiled:
    session: BuildahSession | HostSession
    targets: list[tuple[Target, list[AppBinary]]]

    def __iter__(self) -> Iterator[tuple[Target, list[AppBinary]]]:
        return iter(self.targets)


def _compile_isolated(job: Job, work: Path, deadline: float | None = None) -> _Compiled:
    """Compile in a working container, or (isolation none, or auto where buildah cannot make
    one inside a container) directly. The container may still be being removed on return."""
    spec = job.spec
    if spec.isolation != "none":
        session = BuildahSession(job.runner, Storage.under(spec.cache_dir), timeout=spec.timeout,
                                 remove_in_background=True, deadline=deadline)
        try:
            with session:
                return _Compiled(session, _compile_all(job, session, work / "c"))
        except IsolationError as exc:
            session.wait_removed()
            why = fallback_reason(spec.isolation, dict(spec.go_environ))
            if not why:
                raise
            log.warning("buildah cannot make a container here (%s); as %s, the job container is taken for "
                        "the throwaway: the go commands run in it directly (--isolation none; "
                        "--isolation chroot to fail instead)", exc.cause, why)
        except BaseException:
            session.wait_removed()  # before the work directory it mounts is deleted
            raise
    host = HostSession(job.runner, work / "root", timeout=spec.timeout, deadline=deadline)
    return _Compiled(host, _compile_all(job, host, work / "h"))


def _paths(job: Job, work: Path) -> Paths:
    spec, sources = job.spec, job.sources
    download_ca = spec.download_ca or system_ca_file() or Path(certifi.where())
    paths = Paths(module=sources.tree, out=work / "out", tmp=work / "tmp",
                  build_cache=_build_cache(spec), mod_cache=spec.go_mod_cache or spec.cache_dir / "go" / "mod",
                  ca_file=download_ca,
                  netrc=spec.netrc, replacements=sources.extra_mounts, module_dir=sources.module_dir)
    for d in (paths.out, paths.tmp, paths.build_cache, paths.mod_cache):
        d.mkdir(parents=True, exist_ok=True)
    # The caller's Go settings for the download step, readable by this user alone.
    fd = os.open(work / "go.env", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(gobuild.go_env_file(job.go))
    return replace(paths, go_env_file=work / "go.env")


def _compile_all(job: Job, session: BuildahSession | HostSession, work: Path) -> list[tuple[Target, list[AppBinary]]]:
    """In one working container: list the main packages, download modules, compile every target.

    When the source is one directory whose Go files all say `package main` and no download is
    needed, it is compiled at once, without `go list` (one container run less on every edit):
    the executable it makes is the proof. `go list` runs only when the compile failed or made
    none, for its clearer errors."""
    spec, sources = job.spec, job.sources
    paths = _paths(job, work)
    vendor = sources.has_vendor
    need_download = not spec.offline and not vendor
    # The download step (its own container run) only when a module may be missing.
    skipped = need_download and modules_cached(sources.module_root, paths.mod_cache)
    if skipped:
        log.debug("every module go.sum names is in the module cache: no download step")
    steps = GoSteps(session, job.toolchain, job.go, paths, spec.build_tags)

    def compile_one(target: Target, platform: Platform) -> AppBinary:
        nonlocal skipped
        _stage(job, "compile", f"{target.package.import_path} for {platform}")
        try:
            own = spec.for_package(target.package.import_path)  # leango.toml's section for it
            return steps.compile(target, platform, ldflags=own.ldflags, env=own.env,
                                 vendor=vendor and spec.offline, offline=spec.offline)
        except DownloadError:
            if not skipped:
                raise
            skipped = False  # the cache was not complete after all: download, then again
            _stage(job, "download", "modules")
            steps.download()
            return compile_one(target, platform)

    guess = _guess_target(spec, sources) if not need_download or skipped else None
    failed: BuildError | None = None
    if guess is not None:
        try:
            early = [compile_one(guess, platform) for platform in spec.platforms]
            if all(is_elf(b.path) for b in early):
                return [(guess, early)]
            log.debug("go build of %s made no executable: asking go list", guess.package.import_path)
        except (CompileError, DownloadError) as exc:
            failed = exc  # go list's errors say more than the compiler's
    _stage(job, "resolve", "main packages")
    found = targets(steps.main_packages(sources, spec.platforms[0]), spec.binary_name, spec.binary_names())
    _check_naming(spec, [t.binary for t in found])
    if guess is not None and [(t.package.import_path, t.binary) for t in found] == [
            (guess.package.import_path, guess.binary)]:
        raise failed or SourceError(f"go build of {guess.package.import_path} made no executable")
    if need_download and not skipped:
        _stage(job, "download", "modules")
        steps.download()
    return [(t, [compile_one(t, platform) for platform in spec.platforms]) for t in found]


def _guess_target(spec: BuildSpec, sources: ModuleSources) -> Target | None:
    """The main package one directory SOURCE would be, from go.mod alone (None for patterns)."""
    if len(sources.patterns) != 1 or sources.patterns[0].endswith("..."):
        return None
    module = module_path(sources.module_root)
    rel = sources.patterns[0].removeprefix(".").lstrip("/")
    if not module or not declares_main(sources.module_root / rel):
        return None
    try:
        (target,) = targets([GoPackage(f"{module}/{rel}" if rel else module, "main", "")], spec.binary_name,
                            spec.binary_names())
    except BuildError:
        return None
    return target


def _check_naming(spec: BuildSpec, found: list[str]) -> None:
    if len(found) > 1 and spec.references:
        raise SpecError(f"--tag REF names one image, but {len(found)} main packages were found "
                        f"({', '.join(found)})",
                        "use --repo REPO (or LEANGO_REPO) to name each image REPO/<binary>")
    if len(found) > 1:
        for path in (spec.outputs.oci_archive, spec.outputs.tarball):
            if path is not None and "{binary}" not in str(path):
                raise SpecError(f"{path} would hold {len(found)} images",
                                "put {binary} in the file name, e.g. out/{binary}.tar")


def references_for(spec: BuildSpec, binary: str) -> tuple[Reference, ...]:
    if spec.repo:
        return tuple(parse_reference(f"{spec.repo}/{binary}:{tag}") for tag in spec.tags or ("latest",))
    return spec.references


def output_sinks(spec: BuildSpec, progress: Progress | None = None, binary: str = "") -> list[Sink]:
    """The outputs the spec asks for: offline ones first, so they survive a failed push.
    `{binary}` in a path is the binary's name."""
    sinks: list[Sink] = []

    def named(path: Path) -> Path:
        return Path(str(path).replace("{binary}", binary))

    if spec.outputs.oci_layout:
        sinks.append(LayoutSink(named(spec.outputs.oci_layout)))
    if spec.outputs.oci_archive:
        sinks.append(OciArchiveSink(named(spec.outputs.oci_archive), spec.source_date_epoch))
    if spec.outputs.tarball:
        sinks.append(DockerArchiveSink(named(spec.outputs.tarball), spec.source_date_epoch))
    if spec.outputs.load:
        from .load import ContainerdSink, LoadTarget, PodmanSink, default_name
        for target in map(LoadTarget.parse, spec.outputs.load):
            sinks.append(PodmanSink(spec.cache_dir / "work", default_name(binary)) if target.store == "podman"
                         else ContainerdSink(target.namespace, default_name(binary)))
    if spec.push is not None:
        from ..oci.sinks.registry import RegistrySink
        sinks.append(RegistrySink(spec.push.credentials, spec.push.registry, spec.push.mount_from, progress,
                                  by_digest=spec.push.by_digest))
    return sinks


def write_sinks(sinks: Sequence[Sink], artifact: Artifact, references: Sequence[Reference],
                referrers: Sequence[Artifact] = (), local: bool = False) -> list[SinkResult]:
    """Write the artifact to each sink, and its referrers to the registry (to layouts and
    archives only when `local`: skopeo and podman refuse one holding several manifests unnamed)."""
    results = []
    for sink in sinks:
        carried = referrers if local or sink.kind == "registry" else ()
        # A sink written before referrers existed takes (artifact, references) alone.
        result = sink.write(artifact, references, carried) if carried else sink.write(artifact, references)
        if result.is_file:
            log.info("wrote %s to %s", result.kind.replace("_", " "), result.location)
        elif result.kind != "registry":
            log.info("loaded %s into %s", ", ".join(str(r) for r in result.references), result.location)
        results.append(result)
    return results
