"""The short loop: spec → compile (in a throwaway container) → containerize → sinks."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import certifi

from ..oci import Image, Index, Platform, Reference
from ..oci.artifact import Artifact
from ..oci.digest import Digest
from ..oci.registry.upload import Progress
from ..oci.sinks import DockerArchiveSink, LayoutSink, OciArchiveSink, PushResult, RegistrySink, Sink, SinkResult
from . import gobuild
from .buildah import BuildahSession, Mount
from .containerize import AppBinary, BaseOptions, containerize
from .elf import check_static
from .errors import CompileError, SpecError
from .platform import elf_machine
from .runner import Runner
from .source import GoPackage, check_binary_name, find_package, uses_cgo
from .spec import BuildSpec
from .toolchain import Toolchain, find_toolchain

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildResult:
    artifact: Image | Index
    references: tuple[Reference, ...]
    toolchain: Toolchain
    written: tuple[SinkResult, ...] = ()

    @property
    def digest(self) -> Digest:
        return self.artifact.digest

    @property
    def outputs(self) -> dict[str, str]:
        """Offline outputs written: kind → path."""
        return {r.kind: r.location for r in self.written if r.kind != "registry"}

    @property
    def pushed(self) -> tuple[PushResult, ...]:
        return tuple(p for r in self.written if r.kind == "registry" for p in r.details)


def _slug(platform: Platform) -> str:
    return str(platform).replace("/", "-")


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


def _compile_all(spec: BuildSpec, runner: Runner, pkg: GoPackage, toolchain: Toolchain,
                 name: str, work: Path) -> list[AppBinary]:
    out, tmp, cache = work / "out", work / "tmp", spec.cache_dir / "go"
    for d in (out, tmp, cache):
        d.mkdir(parents=True, exist_ok=True)
    mounts = [Mount(str(toolchain.goroot), gobuild.GOROOT), Mount(str(pkg.module_root), gobuild.SRC),
              Mount(str(out), gobuild.OUT, False), Mount(str(tmp), gobuild.TMP, False),
              Mount(str(cache), gobuild.CACHE, False)]
    binaries = []
    with BuildahSession(runner) as session:
        for platform in spec.platforms:
            log.info("compiling %s for %s with %s", pkg.relative, platform, toolchain.version)
            rel = f"{_slug(platform)}/{name}"
            argv = gobuild.go_build_argv(pkg.relative, rel, ldflags=spec.ldflags,
                                         build_tags=spec.build_tags)
            res = session.run(argv, mounts=mounts, env=gobuild.go_build_env(platform, spec.env),
                              workdir=gobuild.SRC)
            if not res.ok:
                raise _compile_error(platform, res.stderr or res.stdout, pkg)
            binaries.append(AppBinary(name, out / rel, platform))
    return binaries


def _compile_error(platform: Platform, output: str, pkg: GoPackage) -> CompileError:
    hint = ""
    cgo_files = uses_cgo(pkg.directory)
    if cgo_files:
        hint = (f"{', '.join(cgo_files)} import \"C\"; leango builds static binaries with CGO_ENABLED=0, "
                "so use pure-Go code (e.g. -tags netgo,osusergo) instead of cgo")
    return CompileError(f"go build failed for {platform}:\n{output.strip()}", hint)


def build(spec: BuildSpec, runner: Runner, progress: Progress | None = None) -> BuildResult:
    pkg = find_package(spec.source)
    name = check_binary_name(spec.binary_name or pkg.default_binary_name)
    toolchain = find_toolchain(runner, spec.goroot)
    base = BaseOptions(ca_bundle(spec), spec.compression, spec.source_date_epoch)
    (spec.cache_dir / "work").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="build-", dir=spec.cache_dir / "work") as tmp:
        work = Path(tmp)
        binaries = _compile_all(spec, runner, pkg, toolchain, name, work)
        for binary in binaries:
            check_static(binary.path, elf_machine(binary.platform), f"{name} ({binary.platform})")
        artifact = containerize(binaries, base, work / "layers", user=spec.user)
        written = write_sinks(output_sinks(spec, progress), artifact, spec.references)
    refs = tuple(r.with_digest(artifact.digest) for r in spec.references)
    return BuildResult(artifact, refs, toolchain, tuple(written))


def output_sinks(spec: BuildSpec, progress: Progress | None = None) -> list[Sink]:
    """The outputs the spec asks for: offline ones first, so they survive a failed push."""
    sinks: list[Sink] = []
    if spec.outputs.oci_layout:
        sinks.append(LayoutSink(spec.outputs.oci_layout))
    if spec.outputs.oci_archive:
        sinks.append(OciArchiveSink(spec.outputs.oci_archive, spec.source_date_epoch))
    if spec.outputs.tarball:
        sinks.append(DockerArchiveSink(spec.outputs.tarball, spec.source_date_epoch))
    if spec.push is not None:
        sinks.append(RegistrySink(spec.push.credentials, spec.push.registry, spec.push.mount_from, progress))
    return sinks


def write_sinks(sinks: Sequence[Sink], artifact: Artifact, references: Sequence[Reference]) -> list[SinkResult]:
    results = []
    for sink in sinks:
        result = sink.write(artifact, references)
        if result.kind != "registry":
            log.info("wrote %s to %s", result.kind.replace("_", " "), result.location)
        results.append(result)
    return results
