"""OCI image layout directory sink (image-spec image-layout.md).

Creates a layout or extends an existing one: blobs are content-addressed and
written once; index.json gains one entry per tag (annotation
org.opencontainers.image.ref.name), replacing an older entry of the same name.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .. import mediatypes
from ..artifact import Artifact, all_blobs
from ..atomic import atomic_writer, write_bytes_atomic
from ..blob import Blob
from ..canonical import canonical_json
from ..descriptor import Descriptor
from ..digest import Digest, copy_hashed
from ..errors import DigestMismatch, LayoutError, OciError
from ..reference import Reference
from ..referrers import Tagged, referrer_descriptor
from .base import SinkKind, SinkResult, named

REF_NAME = "org.opencontainers.image.ref.name"
LAYOUT_FILE = b'{"imageLayoutVersion":"1.0.0"}'


def blob_path(root: Path, digest: Digest) -> Path:
    return root / "blobs" / digest.algorithm / digest.hex


def index_entries(root_descriptor: Descriptor, names: Iterable[str]) -> list[Descriptor]:
    """The index.json entries for one artifact: one per name, or one unnamed."""
    names = list(dict.fromkeys(names))
    if not names:
        return [root_descriptor]
    return [root_descriptor.with_annotations(**{REF_NAME: n}) for n in names]


def merge_index(existing: list[Descriptor], new: list[Descriptor]) -> list[Descriptor]:
    """Replace entries whose ref name (or, unnamed, digest) is taken by new ones."""
    new_names = {d.annotation(REF_NAME) for d in new} - {None}
    new_digests = {d.digest for d in new if d.annotation(REF_NAME) is None}
    kept = [d for d in existing
            if d.annotation(REF_NAME) not in new_names
            and not (d.annotation(REF_NAME) is None and d.digest in new_digests)]
    return kept + new


def index_json(entries: list[Descriptor]) -> bytes:
    return canonical_json({
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_INDEX,
        "manifests": [d.to_json() for d in entries],
    })


def read_index(root: Path) -> list[Descriptor]:
    path = root / "index.json"
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_bytes())
        return [Descriptor.from_json(m) for m in data.get("manifests", [])]
    except (OSError, ValueError, AttributeError, TypeError, OciError) as exc:
        raise LayoutError(f"{path}: not a valid OCI index: {exc}") from exc


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    """An advisory lock on the layout directory itself (no extra file in the layout)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _prepare_layout_dir(root: Path) -> None:
    """Under the layout lock: make root an OCI layout, or check that it is one.

    oci-layout is written first, so a first write that fails later still leaves a layout the
    next run can extend; nothing that names a layout file may be a symlink (a planted
    `blobs -> /elsewhere` would otherwise receive every blob)."""
    for name in ("oci-layout", "index.json", "blobs", "blobs/sha256"):
        if (root / name).is_symlink():
            raise LayoutError(f"{root / name} is a symlink; refusing to write through it")
    if (root / "oci-layout").is_file():
        return
    if any(root.iterdir()):
        raise LayoutError(f"{root} is a non-empty directory that is not an OCI layout; "
                          "choose an empty or new directory")
    write_bytes_atomic(root / "oci-layout", LAYOUT_FILE)


def _holds(path: Path, blob: Blob) -> bool:
    """True when path already has exactly this blob's bytes (never trust a name alone)."""
    if not path.is_file() or path.is_symlink() or path.stat().st_size != blob.size:
        return False
    with open(path, "rb") as src:
        return copy_hashed(src, None)[0] == blob.digest


def write_blob(root: Path, blob: Blob) -> None:
    dest = blob_path(root, blob.digest)
    if _holds(dest, blob):
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(dest) as out, blob.open() as src:
        digest, size = copy_hashed(src, out)
        if digest != blob.digest or size != blob.size:
            raise DigestMismatch(f"blob {blob.digest}", f"{blob.digest} ({blob.size} bytes)",
                                 f"{digest} ({size} bytes)")


@dataclass(frozen=True)
class LayoutSink:
    path: Path
    kind: SinkKind = "oci_layout"

    def write(self, artifact: Artifact, references: Sequence[Reference],
              referrers: Sequence[Artifact] = ()) -> SinkResult:
        write_layout(self.path, artifact, [str(r) for r in references], referrers)
        return SinkResult(self.kind, str(self.path), named(artifact, references))


def referrer_entries(referrers: Iterable[Artifact]) -> list[Descriptor]:
    """index.json entries for referrers: untagged, with their artifactType and annotations, as
    oras-go's OCI store writes them (and `oras discover --oci-layout` finds them); an attachment
    by tag (cosign's sha256-<hex>.sig) as an entry of that name."""
    return [r.descriptor.with_annotations(**{REF_NAME: r.tag}) if isinstance(r, Tagged)
            else referrer_descriptor(r.raw, r.media_type) for r in referrers]


def _merged(root: Path, entries: list[Descriptor], referrer: Artifact) -> Artifact:
    """referrer as it is to be written: a Tagged one merged with what its tag holds in the layout."""
    if not isinstance(referrer, Tagged):
        return referrer
    there = [d for d in entries if d.annotation(REF_NAME) == referrer.tag]
    existing = None
    if there and blob_path(root, there[0].digest).is_file():
        existing = blob_path(root, there[0].digest).read_bytes()
        if Digest.of_bytes(existing) != there[0].digest:
            raise DigestMismatch(f"{root}: manifest of {referrer.tag}", str(there[0].digest),
                                 str(Digest.of_bytes(existing)))
    artifact = referrer.merged(existing, lambda d: Blob(d, path=blob_path(root, d.digest)))
    return Tagged(referrer.tag, artifact)


def write_layout(root: Path, artifact: Artifact, names: Iterable[str] = (),
                 referrers: Sequence[Artifact] = ()) -> Descriptor:
    """Write artifact (an image, index or artifact manifest) into the layout at root, each of
    its referrers as an untagged entry, and each Tagged one under its tag (merged with what the
    tag holds when it says so)."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise LayoutError(f"{root} exists and is not a directory")
    try:
        root.mkdir(parents=True, exist_ok=True)
        # One writer at a time, from the first check to index.json (a read-modify-write):
        # concurrent first writers both succeed, one after the other.
        with _locked(root):
            _prepare_layout_dir(root)
            existing = read_index(root)
            referrers = [_merged(root, existing, r) for r in referrers]
            for each in (artifact, *referrers):
                for blob in all_blobs(each):
                    write_blob(root, blob)
            entries = merge_index(existing,
                                  [*index_entries(artifact.descriptor, names), *referrer_entries(referrers)])
            write_bytes_atomic(root / "index.json", index_json(entries))
    except OSError as exc:
        raise LayoutError(f"cannot write OCI layout {root}: {exc}") from exc
    return artifact.descriptor
