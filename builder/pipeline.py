"""The short loop: spec → compile (in a throwaway container) → containerize → sinks."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import certifi

from oci import Image, Index, Platform, Reference
from oci.sinks.archive import write_oci_archive
from oci.sinks.docker_archive import write_docker_archive
from oci.sinks import registry as registry_sink
from oci.sinks.layout import write_layout

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
    outputs: dict[str, str]
    pushed: tuple = ()

    @property
    def digest(self):
        return self.artifact.digest


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
            raise SpecError(f"cannot read CA file {path}: {exc.strerror}") from None
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


def build(spec: BuildSpec, runner: Runner, progress=None) -> BuildResult:
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
        outputs = write_outputs(spec, artifact)
        pushed = tuple(push_artifact(spec, artifact, progress)) if spec.push else ()
    refs = tuple(r.with_digest(artifact.digest) for r in spec.references)
    return BuildResult(artifact, refs, toolchain, outputs, pushed)


def push_artifact(spec: BuildSpec, artifact, progress=None):
    opts = spec.push
    return registry_sink.push(artifact, spec.references, credentials=opts.credentials,
                              options=opts.registry, mount_from=opts.mount_from, progress=progress)


def write_outputs(spec: BuildSpec, artifact: Image | Index) -> dict[str, str]:
    names = [str(r) for r in spec.references]
    written = {}
    if spec.outputs.oci_layout:
        write_layout(spec.outputs.oci_layout, artifact, names)
        written["oci_layout"] = str(spec.outputs.oci_layout)
    if spec.outputs.oci_archive:
        write_oci_archive(spec.outputs.oci_archive, artifact, names, spec.source_date_epoch)
        written["oci_archive"] = str(spec.outputs.oci_archive)
    if spec.outputs.tarball:
        write_docker_archive(spec.outputs.tarball, artifact, names, spec.source_date_epoch)
        written["tarball"] = str(spec.outputs.tarball)
    for key, path in written.items():
        log.info("wrote %s to %s", key.replace("_", " "), path)
    return written
