"""The official image-spec JSON schemas as a check `leango verify` runs, and a layout walker.

The schemas are the image-spec's own files (Debian's golang-github-opencontainers-image-spec-dev
installs them; LEANGO_OCI_SCHEMAS names another directory), validated with jsonschema (the
`verify` extra). They refer to each other by file name ("defs-descriptor.json"), so they are
loaded into one referencing Registry keyed by both file name and `id`.

validate_layout re-derives every digest, size and diff_id of an OCI layout from its bytes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import mediatypes
from .descriptor import Descriptor
from .digest import Digest, copy_hashed
from .errors import DigestMismatch, LayoutError, OciError
from .layer import decompressed
from .sinks.layout import blob_path, read_index


@dataclass
class Report:
    manifests: list[Digest] = field(default_factory=list)
    blobs: set[Digest] = field(default_factory=set)


def _check_blob(root: Path, desc: Descriptor) -> Path:
    path = blob_path(root, desc.digest)
    if path.is_symlink() or not path.is_file():
        raise LayoutError(f"blob {desc.digest} is missing or not a regular file")
    with open(path, "rb") as src:
        digest, size = copy_hashed(src, None)
    if digest != desc.digest:
        raise DigestMismatch(f"blob {path.name}", str(desc.digest), str(digest))
    if size != desc.size:
        raise DigestMismatch(f"size of {desc.digest}", str(desc.size), str(size))
    return path


def diff_id(path: Path, media_type: str) -> Digest:
    """sha256 of the uncompressed layer tar."""
    with open(path, "rb") as raw, decompressed(raw, media_type) as stream:
        return copy_hashed(stream, None)[0]


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_bytes())
    except ValueError as exc:
        raise LayoutError(f"{path.name}: invalid JSON: {exc}") from exc


def _validate_manifest(root: Path, desc: Descriptor, report: Report) -> None:
    manifest = _json(_check_blob(root, desc))
    if manifest.get("mediaType") != desc.media_type:
        raise LayoutError(f"manifest {desc.digest}: mediaType {manifest.get('mediaType')!r} "
                          f"differs from its descriptor's {desc.media_type!r}")
    config_desc = Descriptor.from_json(manifest["config"])
    config_path = _check_blob(root, config_desc)
    layers = [Descriptor.from_json(l) for l in manifest.get("layers", [])]
    if config_desc.media_type not in mediatypes.CONFIG_TYPES:
        # An artifact (SBOM, provenance, cache): its layers are files, not filesystem tars.
        for layer in layers:
            _check_blob(root, layer)
        report.manifests.append(desc.digest)
        report.blobs.update([desc.digest, config_desc.digest, *(l.digest for l in layers)])
        return
    config = _json(config_path)
    diff_ids = [str(diff_id(_check_blob(root, l), l.media_type)) for l in layers]
    if config.get("rootfs", {}).get("diff_ids") != diff_ids:
        raise DigestMismatch(f"rootfs.diff_ids of config {config_desc.digest}",
                             str(config.get("rootfs", {}).get("diff_ids")), str(diff_ids))
    report.manifests.append(desc.digest)
    report.blobs.update([desc.digest, config_desc.digest, *(l.digest for l in layers)])


def _validate_descriptor(root: Path, desc: Descriptor, report: Report) -> None:
    if desc.media_type in mediatypes.INDEX_TYPES:
        index = _json(_check_blob(root, desc))
        report.blobs.add(desc.digest)
        for child in index.get("manifests", []):
            _validate_descriptor(root, Descriptor.from_json(child), report)
    elif desc.media_type in mediatypes.MANIFEST_TYPES:
        _validate_manifest(root, desc, report)
    else:
        _check_blob(root, desc)
        report.blobs.add(desc.digest)


def validate_layout(root: Path) -> Report:
    """Raise OciError on the first inconsistency; return what was checked."""
    root = Path(root)
    layout = _json(root / "oci-layout") if (root / "oci-layout").is_file() else None
    if not layout or layout.get("imageLayoutVersion") != "1.0.0":
        raise LayoutError(f"{root}: missing or invalid oci-layout file")
    report = Report()
    entries = read_index(root)
    if not entries:
        raise LayoutError(f"{root}: index.json lists no manifests")
    for desc in entries:
        _validate_descriptor(root, desc, report)
    return report


SCHEMA_DIR = Path("/usr/share/gocode/src/github.com/opencontainers/image-spec/schema")
SCHEMA_BASE = "https://opencontainers.org/schema/image/"
SCHEMA_FILES = {"manifest": "image-manifest-schema.json", "index": "image-index-schema.json",
                "config": "config-schema.json", "layout": "image-layout-schema.json",
                "descriptor": "content-descriptor.json"}


def schema_dir() -> Path:
    return Path(os.environ.get("LEANGO_OCI_SCHEMAS") or SCHEMA_DIR)


def schema_checker(directory: Path | None = None) -> tuple[Callable[[str, bytes | dict[str, Any]], None] | None, str]:
    """A check(kind, document) raising OciError when document breaks the image-spec schema of kind
    (manifest, index, config, layout, descriptor), and "checked"; or None and why there is none."""
    directory = directory or schema_dir()
    try:
        from jsonschema import Draft4Validator  # type: ignore[import-untyped]
        from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4
    except ImportError:
        return None, "not checked: install leango[verify] (jsonschema)"
    if not (directory / SCHEMA_FILES["manifest"]).is_file():
        return None, (f"not checked: no image-spec schemas in {directory} (apt-get install "
                      "golang-github-opencontainers-image-spec-dev, or set LEANGO_OCI_SCHEMAS)")
    resources, schemas = [], {}
    for path in directory.glob("*.json"):
        contents = json.loads(path.read_text())
        resource = Resource.from_contents(contents, default_specification=DRAFT4)
        resources += [(SCHEMA_BASE + path.name, resource), (path.name, resource)]
        schemas[path.name] = contents
    registry = Registry().with_resources(resources)
    validators = {kind: Draft4Validator({**schemas[name], "id": SCHEMA_BASE + name}, registry=registry)
                  for kind, name in SCHEMA_FILES.items()}

    def check(kind: str, document: bytes | dict[str, Any]) -> None:
        doc = json.loads(document) if isinstance(document, (bytes, str)) else document
        try:
            validators[kind].validate(doc)
        except ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "the document"
            raise OciError(f"{where}: {exc.message}") from exc
    return check, "checked"
