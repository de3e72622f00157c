"""Index: any manifests — images, nested indexes, artifact manifests — → index bytes
(image-spec image-index.md)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from . import mediatypes
from .artifact import Artifact, RawArtifact, unique
from .blob import Blob
from .canonical import canonical_json
from .descriptor import Descriptor
from .digest import Digest
from .errors import OciError

if TYPE_CHECKING:
    from .image import Image


@dataclass(frozen=True)
class Index(RawArtifact):
    manifests: tuple[Artifact, ...]
    annotations: tuple[tuple[str, str], ...] = ()
    artifact_type: str = ""

    def __post_init__(self) -> None:
        if not self.manifests:
            raise OciError("an index needs at least one manifest")
        digests = [m.digest for m in self.manifests]
        if len(set(digests)) != len(digests):
            raise OciError("an index lists the same manifest twice")
        # Runtimes pick a manifest by platform: two with one platform would be ambiguous.
        platforms = [m.descriptor.platform for m in self.manifests if m.descriptor.platform is not None]
        if len(set(platforms)) != len(platforms):
            raise OciError(f"duplicate platforms in index: {sorted(map(str, platforms))}")

    @cached_property
    def raw(self) -> bytes:
        index: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_INDEX,
            "manifests": [m.descriptor.to_json() for m in self.manifests],
        }
        if self.artifact_type:
            index["artifactType"] = self.artifact_type
        if self.annotations:
            index["annotations"] = dict(self.annotations)
        return canonical_json(index)

    @property
    def index_bytes(self) -> bytes:
        return self.raw

    @cached_property
    def descriptor(self) -> Descriptor:
        data = self.raw
        return Descriptor(mediatypes.OCI_INDEX, Digest.of_bytes(data), len(data),
                          artifact_type=self.artifact_type)


    def images(self) -> tuple[Image, ...]:
        return tuple(img for m in self.manifests for img in m.images())

    def blobs(self) -> Iterator[Blob]:
        """Every child's content blobs, each once (a base layer shared by platforms too)."""
        return unique(blob for m in self.manifests for blob in m.blobs())

    def child_manifests(self) -> Iterator[Blob]:
        """Grandchildren before children, so a registry has every child before its parent."""
        return unique(blob for m in self.manifests for blob in (*m.child_manifests(), m.root))
