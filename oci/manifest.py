"""Manifest: a generic OCI artifact manifest (image-spec manifest.md, "Guidelines for Artifact Usage").

For what is not a runnable image: an SBOM, provenance, a build cache. The
artifactType says what it is, the config is the empty descriptor unless one is
given, each layer is a file (named by org.opencontainers.image.title, as ORAS
does), and a subject makes it a referrer of another manifest.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from . import mediatypes
from .artifact import RawArtifact, unique
from .blob import Blob
from .canonical import canonical_json
from .descriptor import Descriptor
from .digest import Digest
from .errors import OciError

if TYPE_CHECKING:
    from .image import Image

EMPTY_JSON = b"{}"
EMPTY_CONFIG = Blob(Descriptor(mediatypes.OCI_EMPTY, Digest.of_bytes(EMPTY_JSON), len(EMPTY_JSON)), data=EMPTY_JSON)


@dataclass(frozen=True)
class Manifest(RawArtifact):
    artifact_type: str
    layers: tuple[Blob, ...] = ()
    config: Blob = field(default=EMPTY_CONFIG)
    subject: Descriptor | None = None
    annotations: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # image-spec: artifactType is required when the config is the empty one, optional (a
        # manifest shaped as an image, cosign's signatures) when the config says what it is.
        if (self.artifact_type or self.config is EMPTY_CONFIG) and "/" not in self.artifact_type:
            raise OciError(f"artifact type {self.artifact_type!r} is not a media type")

    @cached_property
    def raw(self) -> bytes:
        doc: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_MANIFEST,
            "config": self.config.descriptor.to_json(),
            # image-spec: an artifact without layers carries the empty descriptor as its one layer.
            "layers": [b.descriptor.to_json() for b in self.layers] or [EMPTY_CONFIG.descriptor.to_json()],
        }
        if self.artifact_type:
            doc["artifactType"] = self.artifact_type
        if self.subject is not None:
            doc["subject"] = self.subject.to_json()
        if self.annotations:
            doc["annotations"] = dict(self.annotations)
        return canonical_json(doc)

    @cached_property
    def descriptor(self) -> Descriptor:
        return Descriptor(mediatypes.OCI_MANIFEST, Digest.of_bytes(self.raw), len(self.raw),
                          annotations=self.annotations, artifact_type=self.artifact_type)


    def blobs(self) -> Iterator[Blob]:
        return unique([*(self.layers or (EMPTY_CONFIG,)), self.config])

    def child_manifests(self) -> Iterator[Blob]:
        return iter(())

    def images(self) -> tuple[Image, ...]:
        return ()
