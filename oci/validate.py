"""Re-derive every digest, size and diff_id of an OCI layout from its bytes.

Used by tests on everything leango writes, and usable on any layout: walks
index.json → indexes → manifests → config and layers, hashing each blob.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from . import mediatypes
from .descriptor import Descriptor
from .digest import Digest, copy_hashed
from .errors import DigestMismatch, LayoutError
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
