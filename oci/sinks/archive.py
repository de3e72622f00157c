"""OCI archive sink: an OCI image layout as a single deterministic tar.

This is what `skopeo copy oci-archive:FILE` and `podman load` read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..artifact import Artifact, all_blobs, unique
from ..atomic import atomic_writer
from ..errors import ArchiveError
from ..reference import Reference
from ..tarfs import FILE, TarEntry, bytes_entry, write_tar
from .base import SinkKind, SinkResult, named
from .layout import LAYOUT_FILE, index_entries, index_json, referrer_entries


@dataclass(frozen=True)
class OciArchiveSink:
    path: Path
    mtime: int = 0
    kind: SinkKind = "oci_archive"

    def write(self, artifact: Artifact, references: Sequence[Reference],
              referrers: Sequence[Artifact] = ()) -> SinkResult:
        write_oci_archive(self.path, artifact, [str(r) for r in references], self.mtime, referrers)
        return SinkResult(self.kind, str(self.path), named(artifact, references))


def blob_entries(*artifacts: Artifact) -> list[TarEntry]:
    """One entry per blob of the artifacts, each once."""
    return [TarEntry(f"blobs/{b.digest.algorithm}/{b.digest.hex}", FILE, 0o644, b.size, b.open)
            for b in unique(b for a in artifacts for b in all_blobs(a))]


def write_oci_archive(dest: Path, artifact: Artifact, names: Iterable[str] = (), mtime: int = 0,
                      referrers: Sequence[Artifact] = ()) -> None:
    """The layout write_layout would make, as one tar: referrers are untagged index.json entries."""
    dest = Path(dest)
    listed = [*index_entries(artifact.descriptor, names), *referrer_entries(referrers)]
    entries = [
        *blob_entries(artifact, *referrers),
        bytes_entry("oci-layout", LAYOUT_FILE),
        bytes_entry("index.json", index_json(listed)),
    ]
    try:
        with atomic_writer(dest) as out:
            write_tar(out, entries, mtime=mtime)
    except OSError as exc:
        raise ArchiveError(f"cannot write OCI archive {dest}: {exc}") from exc
