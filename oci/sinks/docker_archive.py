"""docker-archive sink: the `docker save` format read by docker/podman load and ctr import.

manifest.json lists, per image, its Config and Layers (paths inside the tar)
and RepoTags. Layers keep their compression: docker load, containers/image and
containerd all detect and decompress gzip layers and check diff_ids.
An index cannot be expressed; each platform's image becomes its own entry.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..artifact import Artifact
from ..atomic import atomic_writer
from ..canonical import canonical_json
from ..errors import ArchiveError
from ..reference import Reference
from ..tarfs import bytes_entry, write_tar
from .archive import blob_entries
from .base import SinkKind, SinkResult, named

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DockerArchiveSink:
    path: Path
    mtime: int = 0
    kind: SinkKind = "tarball"

    def write(self, artifact: Artifact, references: Sequence[Reference],
              referrers: Sequence[Artifact] = ()) -> SinkResult:
        if referrers:  # the format has no place for them (docker load knows images only)
            log.warning("%s: a docker-archive cannot hold the %d artifacts attached to the image; "
                        "write an oci-archive to carry them", self.path, len(referrers))
        write_docker_archive(self.path, artifact, [str(r) for r in references], self.mtime)
        return SinkResult(self.kind, str(self.path), named(artifact, references))


def manifest_json(artifact: Artifact, repo_tags: Iterable[str]) -> bytes:
    repo_tags = list(dict.fromkeys(repo_tags))
    images = artifact.images()
    if not images:
        raise ArchiveError("a docker archive holds runnable images; this artifact has none")
    entries: list[dict[str, Any]] = []
    for i, img in enumerate(images):
        entries.append({
            "Config": f"blobs/sha256/{img.config_descriptor.digest.hex}",
            # Only the first image of a multi-platform set carries the tags:
            # one tag cannot name two images in a docker image store.
            "RepoTags": repo_tags if i == 0 else [],
            "Layers": [f"blobs/sha256/{l.digest.hex}" for l in img.layers],
        })
    return canonical_json(entries)


def write_docker_archive(dest: Path, artifact: Artifact, repo_tags: Iterable[str] = (), mtime: int = 0) -> None:
    dest = Path(dest)
    entries = blob_entries(artifact)
    entries.append(bytes_entry("manifest.json", manifest_json(artifact, repo_tags)))
    try:
        with atomic_writer(dest) as out:
            write_tar(out, entries, mtime=mtime)
    except OSError as exc:
        raise ArchiveError(f"cannot write docker archive {dest}: {exc}") from exc
