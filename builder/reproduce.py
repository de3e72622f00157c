"""--check-reproducible: the same inputs built a second time, in a fresh container with empty Go
caches, must give the same images; otherwise the first difference is named, down to the file.

The second build shares nothing that could hide a difference: no build record, a Go build cache
and a module cache of its own (emptied after; with --offline the module cache is shared, as
nothing could be downloaded, and modules are checked against go.sum either way), templates such
as {{ .Date }} expanded again — with the clock a year and a second ahead, as reprotest varies the
time, so that a build embedding its time differs even when both builds fall in one second
(SOURCE_DATE_EPOCH, when set, stands for the time in both). It shares the layer store, which is
content-addressed.
"""

from __future__ import annotations

import hashlib
import logging
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from ..oci.artifact import Artifact
from ..oci.blob import Blob
from ..oci.layer import decompressed
from .errors import BuildError
from .spec import Attestations, BuildSpec, Outputs

log = logging.getLogger(__name__)


CLOCK_AHEAD = 366 * 86400 + 1  # seconds: another date, another second


class NotReproducible(BuildError):
    """Two builds of the same inputs gave different images."""


def second_spec(spec: BuildSpec, scratch: Path) -> BuildSpec:
    """spec as the check builds it again: nothing written or pushed, no record, no attachments,
    empty Go caches under scratch."""
    return replace(spec, check_reproducible=False, reuse=False, push=None, outputs=Outputs(), remote_cache=None,
                   signer=None, attest=Attestations((), False), go_build_cache=scratch / "go-build",
                   go_mod_cache=None if spec.offline else scratch / "mod", clock_offset=CLOCK_AHEAD)


def check(spec: BuildSpec, build_again: Callable[[BuildSpec], Sequence[Artifact]], first: Sequence[Artifact],
          remove: Callable[[Path], None]) -> None:
    """Build spec again (build_again returns the artifacts, in the order of first) and raise
    NotReproducible at the first difference."""
    work = spec.cache_dir / "work"
    work.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="reproduce-", dir=work))
    log.info("checking that the build is reproducible: building again in a fresh container with empty Go caches")
    try:
        second = build_again(second_spec(spec, scratch))
    finally:
        remove(scratch)
    for a, b in zip(first, second, strict=True):
        difference = first_difference(a, b)
        if difference:
            raise NotReproducible(f"not reproducible: a second build gave {b.digest}, not {a.digest}: {difference}",
                                  "an input that changes from build to build reaches the image: the time? "
                                  "SOURCE_DATE_EPOCH fixes {{ .Date }}")
    log.info("reproducible: the second build gave the same %s", ", ".join(str(a.digest) for a in first))


def first_difference(a: Artifact, b: Artifact) -> str:
    """Where a and b first differ ("" when they are the same): the platform, the layer and the
    file, or the config or manifest field."""
    if a.digest == b.digest:
        return ""
    ours, theirs = a.images(), b.images()
    if len(ours) != len(theirs):
        return f"{len(ours)} images, then {len(theirs)}"
    for x, y in zip(ours, theirs, strict=True):
        if x.digest == y.digest:
            continue
        where = str(x.config.platform)
        if len(x.layers) != len(y.layers):
            return f"{where}: {len(x.layers)} layers, then {len(y.layers)}"
        for n, (lx, ly) in enumerate(zip(x.layers, y.layers, strict=True), 1):
            if lx.digest != ly.digest:
                return (f"{where}: layer {n} of {len(x.layers)} ({lx.digest}, then {ly.digest}): "
                        f"{layer_difference(lx.blob, ly.blob)}")
        if x.config_blob.digest != y.config_blob.digest:
            return f"{where}: the config: {_json_difference(x.config_blob, y.config_blob)}"
        return f"{where}: the manifest: {_json_difference(x.root, y.root)}"
    return f"the index: {_json_difference(a.root, b.root)}"


def _json_difference(x: Blob, y: Blob) -> str:
    import json
    with x.open() as fx, y.open() as fy:
        dx, dy = json.load(fx), json.load(fy)
    for path, vx, vy in _walk(dx, dy, ""):
        return f"{path or 'the document'}: {json.dumps(vx)}, then {json.dumps(vy)}"
    return "the same fields, other bytes"


def _walk(x: Any, y: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    if isinstance(x, dict) and isinstance(y, dict):
        for key in sorted(set(x) | set(y)):
            yield from _walk(x.get(key), y.get(key), f"{path}.{key}" if path else key)
    elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        for i, (vx, vy) in enumerate(zip(x, y, strict=True)):
            yield from _walk(vx, vy, f"{path}[{i}]")
    elif x != y:
        yield path, x, y


def _members(blob: Blob) -> Iterator[tuple[tarfile.TarInfo, str]]:
    """Each entry of a layer with the SHA-256 of its content."""
    with blob.open() as raw, decompressed(raw, blob.descriptor.media_type) as tar_stream, \
            tarfile.open(fileobj=tar_stream, mode="r|") as tar:
        for member in tar:
            content = ""
            if member.isfile():
                f: IO[bytes] | None = tar.extractfile(member)
                assert f is not None
                h = hashlib.sha256()
                for chunk in iter(lambda: f.read(1 << 20), b""):  # noqa: B023 -- read now, in this iteration
                    h.update(chunk)
                content = h.hexdigest()
            yield member, content


def _kind(info: tarfile.TarInfo) -> str:
    return ("file" if info.isfile() else "directory" if info.isdir() else "symlink" if info.issym()
            else "hard link" if info.islnk() else f"type {info.type.decode(errors='replace')}")


def layer_difference(x: Blob, y: Blob) -> str:
    """The first file of two layers that differs, and how."""
    first, second = _members(x), _members(y)
    while True:
        mx, my = next(first, None), next(second, None)
        if mx is None and my is None:
            return "the same files, other bytes (compression)"
        if mx is None or my is None:
            only, which = (my, "second") if mx is None else (mx, "first")
            assert only is not None
            return f"/{only[0].name}: only in the {which} build"
        (ix, cx), (iy, cy) = mx, my
        if ix.name != iy.name:
            return f"/{ix.name} in the first build where the second has /{iy.name}"
        name = f"/{ix.name}"
        for what, vx, vy in (("type", _kind(ix), _kind(iy)), ("content", cx, cy), ("size", ix.size, iy.size),
                             ("mode", oct(ix.mode), oct(iy.mode)), ("owner", (ix.uid, ix.gid), (iy.uid, iy.gid)),
                             ("modification time", ix.mtime, iy.mtime), ("link target", ix.linkname, iy.linkname)):
            if vx != vy:
                if what == "content":
                    return f"{name}: its content differs (sha256 {cx[:12]}…, then {cy[:12]}…)"
                return f"{name}: its {what} differs ({vx}, then {vy})"
        if ix.pax_headers != iy.pax_headers:
            return f"{name}: its extended headers differ"
