"""The Artifact contract: what images, indexes and artifact manifests share.

Every output (layout, archives, registry) works on this protocol alone, so no
code tells an image from an index by comparing media-type strings: an artifact
says which content blobs it needs, which manifests it holds (children before
parents) and which runnable images it contains.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Protocol

from .blob import Blob
from .descriptor import Descriptor
from .digest import Digest

if TYPE_CHECKING:
    from .image import Image


class Artifact(Protocol):
    @property
    def descriptor(self) -> Descriptor:
        """How a parent index or a registry refers to this artifact."""
        ...

    @property
    def digest(self) -> Digest: ...

    @property
    def media_type(self) -> str: ...

    @property
    def raw(self) -> bytes:
        """The exact bytes of this manifest or index: the bytes hashed, written and pushed."""
        ...

    @property
    def root(self) -> Blob:
        """This artifact's own manifest or index as a blob (descriptor + raw)."""
        ...

    def blobs(self) -> Iterator[Blob]:
        """Content blobs (layers, configs) of this artifact and everything it holds, each once."""
        ...

    def child_manifests(self) -> Iterator[Blob]:
        """Manifests and indexes held below this one, children before their parents, each once."""
        ...

    def images(self) -> tuple[Image, ...]:
        """The runnable images it holds (itself, for an image)."""
        ...


class RawArtifact:
    """digest, media_type and root, derived once for every artifact kind from descriptor and raw."""

    if TYPE_CHECKING:
        @property
        def descriptor(self) -> Descriptor: ...

        @property
        def raw(self) -> bytes: ...

    @property
    def digest(self) -> Digest:
        return self.descriptor.digest

    @property
    def media_type(self) -> str:
        return self.descriptor.media_type

    @property
    def root(self) -> Blob:
        return Blob(self.descriptor, data=self.raw)


def unique(blobs: Iterable[Blob]) -> Iterator[Blob]:
    """Blobs in order, each digest once."""
    seen: set[Digest] = set()
    for blob in blobs:
        if blob.digest not in seen:
            seen.add(blob.digest)
            yield blob


def all_blobs(artifact: Artifact) -> Iterator[Blob]:
    """Everything a layout or archive stores for artifact: content, child manifests, then its root."""
    yield from unique([*artifact.blobs(), *artifact.child_manifests(), artifact.root])
