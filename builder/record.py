"""Know "nothing changed" without entering the container.

Before a build, every input is hashed into one key: the toolchain (its version, place
and every file of it: toolprint.py), the options that shape the image (platforms, flags, tags, --env,
user, compression, CA bundle, SOURCE_DATE_EPOCH), the Go settings (GOFLAGS…), and
every file of the module and of the local modules its go.mod `replace`s — vendored
code, embedded files, go.mod and go.sum, which pins the content of every downloaded
dependency. A record under that key lists the images a previous build made and their
layer blobs (kept in the cache, content-addressed); when it is found and every blob is
still there, the images are put together again and written, and no container starts.

Symlinks count by their target and, where the build container resolves them inside the
mounted source tree, by the content they lead to. When in doubt, build: a link leaving
that tree, anything but a regular file, directory or symlink, or an unreadable file
gives no key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._version import version
from ..oci import Digest, Image, Index, OciError, Platform
from ..oci.layer import ENCODING as LAYER_ENCODING
from ..oci.layer import Layer
from .containerize import AppBinary, BaseOptions, image_config
from .goenv import GoEnv
from .source import ModuleSources
from .spec import BuildSpec
from .toolchain import Toolchain
from .toolprint import file_digest, toolchain_digest

log = logging.getLogger(__name__)
RECORD_VERSION = 2
SKIPPED_DIRS = frozenset({".git", ".hg", ".svn"})


@dataclass(frozen=True)
class RecordedImage:
    binary: str
    package: str
    artifact: Image | Index


class _Unsure(Exception):
    """An input leango cannot fingerprint safely: build."""


class _Outputs:
    """What this build writes, left out of the key (go:embed can read anything else, a directory
    named leango-out included): each output path, and for a path templated with {binary} every
    name the template can take."""

    def __init__(self, spec: BuildSpec):
        paths = [Path(p) for p in (spec.outputs.oci_layout, spec.outputs.oci_archive, spec.outputs.tarball)
                 if p is not None]
        resolved = [str(p.resolve()) for p in paths]  # as the sinks write them
        self.exact = {Path(p) for p in resolved}
        self.templates = [re.compile(re.escape(p).replace(re.escape("{binary}"), "[^/]+"))
                          for p in resolved if "{binary}" in p]

    def __contains__(self, path: Path) -> bool:
        return path in self.exact or any(t.fullmatch(str(path)) for t in self.templates)


def _tree(h: Any, root: Path, excluded: _Outputs, bound: Path, visited: set[Path]) -> None:
    """Every regular file under root: relative path, executable bit, content digest; every
    symlink: its target and, as the build container resolves it inside the mounted tree
    (`bound`), the content it leads to (a linked directory is walked once)."""
    visited.add(Path(os.path.realpath(root)))
    stack: list[tuple[Path, str]] = [(root, "")]
    while stack:
        directory, prefix = stack.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            raise _Unsure(f"cannot list {directory}: {exc}") from exc
        for entry in entries:
            path, name = Path(entry.path), prefix + entry.name
            mode = os.lstat(entry.path).st_mode
            if path in excluded:  # this build's own outputs: not there at the first build
                continue
            if stat.S_ISDIR(mode):
                # No line of its own: an empty directory is nothing to the go command, and a
                # directory the outputs are written into appears after the first build.
                if entry.name not in SKIPPED_DIRS:
                    stack.append((path, name + "/"))
            elif stat.S_ISREG(mode):
                h.update(f"f {name} {mode & 0o111:o} {_readable_digest(path)}\n".encode())
            elif stat.S_ISLNK(mode):
                _link(h, path, name, bound, visited, stack)
            else:
                raise _Unsure(f"{path} is not a regular file, directory or symlink")


def _link(h: Any, path: Path, name: str, bound: Path, visited: set[Path], stack: list[tuple[Path, str]]) -> None:
    try:
        target = os.readlink(path)
    except OSError as exc:
        raise _Unsure(f"cannot read link {path}: {exc}") from exc
    real = Path(os.path.realpath(path))
    if real != bound and bound not in real.parents:
        # The container does not see it; isolation none would: fingerprint neither, build.
        raise _Unsure(f"{path} links to {target}, outside {bound}")
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        h.update(f"l {name} {target} dangling\n".encode())
        return
    except OSError as exc:
        raise _Unsure(f"cannot follow {path}: {exc}") from exc
    if stat.S_ISREG(mode):
        h.update(f"l {name} {target} {mode & 0o111:o} {_readable_digest(real)}\n".encode())
    elif stat.S_ISDIR(mode):
        h.update(f"l {name} {target} dir\n".encode())
        if real not in visited:  # a linked directory (or a cycle) is walked once
            visited.add(real)
            stack.append((real, name + "/"))
    else:
        raise _Unsure(f"{path} links to {target}, which is not a regular file or directory")


def _readable_digest(path: Path) -> str:
    try:
        return file_digest(path)
    except OSError as exc:
        raise _Unsure(f"cannot read {path}: {exc}") from exc


def input_key(spec: BuildSpec, sources: ModuleSources, toolchain: Toolchain, go: GoEnv,
              base: BaseOptions) -> str | None:
    h = hashlib.sha256()
    # Each option by its place (the list's order is fixed), so the same options give the same JSON.
    options = [
        [RECORD_VERSION, version()],
        [toolchain.version, str(toolchain.goroot)],
        [str(sources.module_root), list(sources.patterns), str(sources.tree)],
        [str(p) for p in spec.platforms],
        [spec.ldflags, list(spec.build_tags), [list(e) for e in spec.env]],
        [spec.binary_name, spec.offline, spec.user],
        [base.compression, LAYER_ENCODING, base.mtime, hashlib.sha256(base.ca_bundle).hexdigest()],
        [list(v) for v in go.values],
        # An image compiled against pulled cache entries is never reused by a build that named none.
        sorted(str(r) for r in spec.remote_cache.cache_from) if spec.remote_cache else [],
        spec.image.key(),
        [[path, o.key()] for path, o in spec.per_image],  # leango.toml's per-image sections
    ]
    h.update(json.dumps(options).encode())
    excluded = _Outputs(spec)
    try:
        h.update(f"goroot {toolchain_digest(toolchain.goroot, spec.cache_dir)}\n".encode())
        visited: set[Path] = set()
        for tree in [sources.module_root, *(host for host, _ in sources.replacements)]:
            if tree != sources.module_root and sources.module_root in tree.parents:
                continue  # a replacement inside the module: walked with it
            h.update(f"tree {tree}\n".encode())
            # Absolute replacements are mounted on their own: links in them resolve within them.
            bound = sources.tree if tree == sources.module_root or sources.tree in tree.parents else tree
            _tree(h, tree, excluded, bound, visited)
        data_dirs = [spec.image.data_dir, *(o.data_dir for _, o in spec.per_image)]
        for data in dict.fromkeys(d for d in data_dirs if d is not None):
            # its files, wherever it is (inside the module they are walked twice)
            h.update(f"data {data}\n".encode())
            _tree(h, data.resolve(), excluded, data.resolve(), set())
            # Every directory too: an empty one is nothing to Go, but it is in the image.
            for path in sorted(p for p in data.rglob("*") if p.is_dir()):
                h.update(f"d {path.relative_to(data).as_posix()}\n".encode())
    except (_Unsure, OSError) as exc:
        log.debug("no build record: %s", exc)
        return None
    return h.hexdigest()


def _record_path(cache_dir: Path, key: str) -> Path:
    return cache_dir / "records" / f"{key}.json"


def _layer_json(layer: Layer) -> dict[str, Any]:
    return {"mediaType": layer.media_type, "digest": str(layer.digest), "size": layer.size,
            "diffID": str(layer.diff_id)}


def save(cache_dir: Path, key: str, images: list[RecordedImage]) -> None:
    from ..oci.atomic import write_bytes_atomic
    doc = {"builds": [{"binary": r.binary, "package": r.package,
                       "images": [{"platform": str(img.config.platform),
                                   "layers": [_layer_json(l) for l in img.layers]}
                                  for img in r.artifact.images()]} for r in images]}
    write_bytes_atomic(_record_path(cache_dir, key), json.dumps(doc).encode())


def load(cache_dir: Path, key: str, spec: BuildSpec, layers_dir: Path) -> list[RecordedImage] | None:
    """The images a build with these inputs made, rebuilt from their layers; None to build."""
    path = _record_path(cache_dir, key)
    try:
        doc = json.loads(path.read_bytes())
        out = []
        for b in doc["builds"]:
            settings = spec.for_package(b["package"]).image
            images = []
            for i in b["images"]:
                layers = tuple(_layer(l, layers_dir) for l in i["layers"])
                binary = AppBinary(b["binary"], Path(), Platform.parse(i["platform"]))
                cfg = image_config(binary, [l.diff_id for l in layers], user=spec.user,
                                   created=spec.source_date_epoch, settings=settings)
                images.append(Image(cfg, layers, settings.annotations))
            artifact: Image | Index = images[0] if len(images) == 1 else \
                Index(tuple(images), settings.index_annotations)
            out.append(RecordedImage(b["binary"], b["package"], artifact))
        return out
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, OciError, _Unsure) as exc:
        log.debug("ignoring build record %s: %s", path.name, exc)
        return None


def _layer(doc: dict[str, Any], layers_dir: Path) -> Layer:
    digest = Digest.parse(doc["digest"])
    path = layers_dir / f"{digest.hex}.blob"
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is None or not stat.S_ISREG(st.st_mode) or st.st_size != doc["size"]:
        raise _Unsure(f"layer {digest} is no longer in the cache")
    return Layer(doc["mediaType"], digest, int(doc["size"]), Digest.parse(doc["diffID"]), path)
