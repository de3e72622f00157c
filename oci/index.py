"""Index: images by platform → index bytes (image-spec image-index.md)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Iterator

from . import mediatypes
from .blob import Blob
from .canonical import canonical_json
from .descriptor import Descriptor
from .digest import Digest
from .errors import OciError
from .image import Image


@dataclass(frozen=True)
class Index:
    manifests: tuple[Image, ...]
    annotations: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        platforms = [img.config.platform for img in self.manifests]
        if not platforms:
            raise OciError("an index needs at least one image")
        if len(set(platforms)) != len(platforms):
            raise OciError(f"duplicate platforms in index: {sorted(map(str, platforms))}")

    @cached_property
    def index_bytes(self) -> bytes:
        index = {
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_INDEX,
            "manifests": [img.descriptor.to_json() for img in self.manifests],
        }
        if self.annotations:
            index["annotations"] = dict(self.annotations)
        return canonical_json(index)

    @cached_property
    def descriptor(self) -> Descriptor:
        data = self.index_bytes
        return Descriptor(mediatypes.OCI_INDEX, Digest.of_bytes(data), len(data))

    @property
    def digest(self) -> Digest:
        return self.descriptor.digest

    @property
    def root(self) -> Blob:
        return Blob(self.descriptor, data=self.index_bytes)

    def images(self) -> tuple[Image, ...]:
        return self.manifests

    def blobs(self) -> Iterator[Blob]:
        """Every child's blobs, each once, then the child manifests."""
        seen: set[Digest] = set()
        for img in self.manifests:
            for blob in img.blobs():
                if blob.digest not in seen:
                    seen.add(blob.digest)
                    yield blob
        for img in self.manifests:
            yield img.root
