"""What the CLI prints: one line per image reference (or digest), or JSON; TTY upload progress."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import click

from .pipeline import BuildResult, ImageBuild

if TYPE_CHECKING:
    from ..oci.sinks.registry import PushResult

log = logging.getLogger("leango")


def build_json(build: ImageBuild, toolchain: str) -> dict[str, Any]:
    art = build.artifact
    return {
        "binary": build.binary,
        "package": build.package,
        "digest": str(art.digest),
        "mediaType": art.descriptor.media_type,
        "references": [str(r) for r in build.references],
        "toolchain": toolchain,
        "outputs": build.outputs,
        "images": [{
            "platform": str(img.config.platform),
            "digest": str(img.digest),
            "config": str(img.config_descriptor.digest),
            "layers": [{"digest": str(l.digest), "size": l.size, "mediaType": l.media_type}
                       for l in img.layers],
        } for img in art.images()],
        "pushed": [push_json(p) for p in build.pushed],
        "loaded": [{"store": r.kind, "where": r.location, "references": [str(n) for n in r.references]}
                   for r in build.written if r.kind in ("podman", "containerd")],
    }


def result_json(result: BuildResult) -> dict[str, Any]:
    """One image: its object. Several: {"builds": [one object per image]}."""
    objects = [build_json(b, result.toolchain.version) for b in result.builds]
    return objects[0] if len(objects) == 1 else {"builds": objects, "toolchain": result.toolchain.version}


def push_json(pushed: PushResult) -> dict[str, Any]:
    report = pushed.report
    return {"reference": str(pushed.reference), "blobsUploaded": report.count("uploaded"),
            "bytesUploaded": report.bytes_uploaded, "blobsExisting": report.count("exists"),
            "blobsMounted": report.count("mounted")}


def report(result: BuildResult, as_json: bool) -> None:
    import json
    for build in result.builds:
        for pushed in build.pushed:
            r = pushed.report
            log.info("pushed %s: %d blob(s) uploaded (%s), %d already present, %d mounted",
                     pushed.reference, r.count("uploaded"), human(r.bytes_uploaded),
                     r.count("exists"), r.count("mounted"))
    if as_json:
        click.echo(json.dumps(result_json(result), indent=2, sort_keys=True))
        return
    for build in result.builds:
        if not build.references:
            click.echo(str(build.digest) if len(result.builds) == 1 else f"{build.binary} {build.digest}")
        for ref in build.references:
            click.echo(str(ref))


def human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


class Progress:
    """Per-blob upload progress on one rewritten stderr line (TTY only)."""

    def __init__(self) -> None:
        self._time = time.monotonic
        self._lock = threading.Lock()
        self._blobs: dict[str, tuple[int, int]] = {}
        self._start = self._time()
        self._last = 0.0

    def __call__(self, digest: str, sent: int, total: int) -> None:
        with self._lock:
            self._blobs[digest] = (sent, total)
            now = self._time()
            if now - self._last < 0.1 and sent < total:
                return
            self._last = now
            done = sum(s for s, _ in self._blobs.values())
            size = sum(t for _, t in self._blobs.values())
            rate = done / max(now - self._start, 1e-3)
            parts = " ".join(f"{d[7:19]} {100 * s // max(t, 1)}%" for d, (s, t) in self._blobs.items())
            click.echo(f"\r\x1b[Kpushing {parts}  {human(done)}/{human(size)} {human(rate)}/s",
                       err=True, nl=False)

    def finish(self) -> None:
        if self._blobs:
            click.echo("", err=True)


