"""OCI archive sink: an OCI image layout as a single deterministic tar.

This is what `skopeo copy oci-archive:FILE` and `podman load` read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ..errors import ArchiveError
from ..tarfs import FILE, TarEntry, bytes_entry, write_tar
from ._atomic import atomic_writer
from .layout import LAYOUT_FILE, index_entries, index_json


def blob_entries(artifact) -> list[TarEntry]:
    entries: dict[str, TarEntry] = {}
    for blob in (*artifact.blobs(), artifact.root):
        path = f"blobs/{blob.digest.algorithm}/{blob.digest.hex}"
        entries[path] = TarEntry(path, FILE, 0o644, blob.size, blob.open)
    return list(entries.values())


def write_oci_archive(dest: Path, artifact, names: Iterable[str] = (), mtime: int = 0) -> None:
    dest = Path(dest)
    entries = blob_entries(artifact) + [
        bytes_entry("oci-layout", LAYOUT_FILE),
        bytes_entry("index.json", index_json(index_entries(artifact.descriptor, names))),
    ]
    try:
        with atomic_writer(dest) as out:
            write_tar(out, entries, mtime=mtime)
    except OSError as exc:
        raise ArchiveError(f"cannot write OCI archive {dest}: {exc}") from exc
