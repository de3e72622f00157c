"""Image: config + layers → manifest bytes and descriptor (image-spec manifest.md)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from . import mediatypes
from .artifact import RawArtifact
from .blob import Blob
from .canonical import canonical_json
from .config import ImageConfig
from .descriptor import Descriptor
from .digest import Digest
from .errors import OciError
from .layer import Layer


@dataclass(frozen=True)
class Image(RawArtifact):
    config: ImageConfig
    layers: tuple[Layer, ...]
    annotations: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if tuple(l.diff_id for l in self.layers) != self.config.diff_ids:
            raise OciError("config rootfs.diff_ids do not match the image's layers")

    @cached_property
    def config_bytes(self) -> bytes:
        return self.config.to_bytes()

    @cached_property
    def config_descriptor(self) -> Descriptor:
        data = self.config_bytes
        return Descriptor(mediatypes.OCI_CONFIG, Digest.of_bytes(data), len(data))

    @cached_property
    def raw(self) -> bytes:
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_MANIFEST,
            "config": self.config_descriptor.to_json(),
            "layers": [layer.descriptor.to_json() for layer in self.layers],
        }
        if self.annotations:
            manifest["annotations"] = dict(self.annotations)
        return canonical_json(manifest)

    @property
    def manifest_bytes(self) -> bytes:
        return self.raw

    @cached_property
    def descriptor(self) -> Descriptor:
        data = self.raw
        return Descriptor(mediatypes.OCI_MANIFEST, Digest.of_bytes(data), len(data),
                          platform=self.config.platform)


    @property
    def config_blob(self) -> Blob:
        return Blob(self.config_descriptor, data=self.config_bytes)

    def images(self) -> tuple[Image, ...]:
        return (self,)

    def blobs(self) -> Iterator[Blob]:
        """Layers then config: everything a manifest needs present before it."""
        for layer in self.layers:
            yield layer.blob
        yield self.config_blob

    def child_manifests(self) -> Iterator[Blob]:
        return iter(())
