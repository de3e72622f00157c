"""Artifacts read back: manifests and indexes parsed from their exact bytes, blobs read lazily.

The read side of the model (the write side is image.py, index.py, manifest.py). A document is
accepted only when its bytes hash to the descriptor that named it, are no larger than 4 MiB
(what containers/image and oras-go read at most), and say the media type the descriptor says.
Its bytes are kept as they came, unknown fields and all, so writing it anywhere again gives
the same digest. Nothing else is read until asked: the blobs and child manifests come from the
Source, each verified as it streams (a Source's `blob` returns a VerifiedReader).

Each parsed artifact honours the Artifact contract, so every Sink writes it unchanged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, BinaryIO, Protocol

from . import mediatypes
from .artifact import Artifact, RawArtifact, unique
from .blob import Blob
from .descriptor import Descriptor
from .digest import Digest
from .errors import DigestMismatch, OciError

MAX_MANIFEST = 4 << 20  # distribution spec: registries SHOULD accept 4 MiB manifests; we read no more


class Source(Protocol):
    """Where an artifact is read from: an OCI layout, an archive, a registry (sources/)."""

    where: str  # how messages name it: oci:DIR, oci-archive:FILE, a reference

    def resolve(self, reference: str) -> Descriptor:
        """The descriptor a tag (or a digest) names in this source."""
        ...

    def manifest_bytes(self, descriptor: Descriptor) -> bytes:
        """The raw bytes of a manifest or index (at most MAX_MANIFEST; parse() verifies them)."""
        ...

    def open_blob(self, descriptor: Descriptor) -> BinaryIO:
        """A reader of the blob's bytes from byte 0 (unverified: blob() wraps it)."""
        ...

    def referrers(self, subject: Digest) -> list[Descriptor]:
        """The manifests that name subject as their subject, each once (referrers.py)."""
        ...


class VerifiedReader:
    """Reads a blob and fails, naming it, the moment it proves not to be what its descriptor
    says: longer than its size, shorter, or hashing to another digest (checked at the end)."""

    def __init__(self, inner: BinaryIO, descriptor: Descriptor, where: str):
        if descriptor.digest.algorithm != "sha256":
            inner.close()
            raise OciError(f"cannot verify a {descriptor.digest.algorithm} blob ({descriptor.digest})")
        self._inner, self.descriptor, self.where = inner, descriptor, where
        self._hash, self._size, self._done = hashlib.sha256(), 0, False

    def read(self, n: int = -1) -> bytes:
        if n == 0:  # nothing asked: not the end of the blob
            return b""
        want = self.descriptor.size - self._size + 1  # one byte more shows a blob that is too long
        chunk = self._inner.read(want if n < 0 else min(n, want))
        self._size += len(chunk)
        if self._size > self.descriptor.size:
            raise DigestMismatch(f"blob {self.descriptor.digest} in {self.where}", f"{self.descriptor.size} bytes",
                                 "more bytes")
        self._hash.update(chunk)
        if not chunk or self._size == self.descriptor.size:
            self._finish(end=not chunk)
        return chunk

    def _finish(self, *, end: bool) -> None:
        if self._done:
            return
        if end and self._size != self.descriptor.size:
            raise DigestMismatch(f"blob {self.descriptor.digest} in {self.where}", f"{self.descriptor.size} bytes",
                                 f"{self._size} bytes")
        if self._size == self.descriptor.size:
            if self._inner.read(1):
                raise DigestMismatch(f"blob {self.descriptor.digest} in {self.where}",
                                     f"{self.descriptor.size} bytes", "more bytes")
            actual = f"sha256:{self._hash.hexdigest()}"
            if actual != str(self.descriptor.digest):
                raise DigestMismatch(f"blob {self.descriptor.digest} in {self.where}", str(self.descriptor.digest),
                                     actual)
            self._done = True

    def close(self) -> None:
        self._inner.close()

    def __enter__(self) -> VerifiedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def blob(source: Source, descriptor: Descriptor, where: str) -> Blob:
    """A lazy blob of source: opened, and verified while it streams, only when read."""
    return Blob(descriptor, opener=lambda: VerifiedReader(source.open_blob(descriptor), descriptor, where))  # type: ignore[arg-type,return-value]


def parse(raw: bytes, descriptor: Descriptor, source: Source, where: str) -> ParsedImage | ParsedIndex | ParsedManifest:
    """The artifact raw is, checked against the descriptor that named it."""
    what = f"{descriptor.digest} in {where}"
    if len(raw) > MAX_MANIFEST:
        raise OciError(f"manifest {what} is {len(raw)} bytes, more than the {MAX_MANIFEST} a manifest may be")
    if len(raw) != descriptor.size:
        raise DigestMismatch(f"manifest {what}", f"{descriptor.size} bytes", f"{len(raw)} bytes")
    if Digest.of_bytes(raw) != descriptor.digest:
        raise DigestMismatch(f"manifest in {where}", str(descriptor.digest), str(Digest.of_bytes(raw)))
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise OciError(f"manifest {what} is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("schemaVersion") != 2:
        raise OciError(f"manifest {what} is not a schemaVersion 2 manifest or index")
    said = doc.get("mediaType", "")
    if said and said != descriptor.media_type:
        raise OciError(f"manifest {what} says it is {said}, its descriptor says {descriptor.media_type}")
    kind = said or descriptor.media_type
    try:
        if kind in mediatypes.INDEX_TYPES:
            children = tuple(Descriptor.from_json(m) for m in doc["manifests"])
            return ParsedIndex(descriptor, raw, source, where, children)
        if kind in mediatypes.MANIFEST_TYPES:
            config = Descriptor.from_json(doc["config"])
            layers = tuple(Descriptor.from_json(l) for l in doc.get("layers") or ())
            subject = Descriptor.from_json(doc["subject"]) if doc.get("subject") else None
            if config.media_type in mediatypes.CONFIG_TYPES and not doc.get("artifactType"):
                return ParsedImage(descriptor, raw, source, where, config, layers, subject)
            return ParsedManifest(descriptor, raw, source, where, config, layers, subject,
                                  doc.get("artifactType") or config.media_type)
    except (KeyError, TypeError) as exc:
        raise OciError(f"manifest {what} is malformed: {exc}") from exc
    raise OciError(f"manifest {what} has media type {kind!r}, neither a manifest nor an index")


def load(source: Source, descriptor: Descriptor, where: str) -> ParsedImage | ParsedIndex | ParsedManifest:
    return parse(source.manifest_bytes(descriptor), descriptor, source, where)


@dataclass(frozen=True, eq=False)
class _Parsed(RawArtifact):
    parsed_descriptor: Descriptor
    raw_bytes: bytes = field(repr=False)
    source: Source = field(repr=False)
    where: str

    @property
    def descriptor(self) -> Descriptor:
        return self.parsed_descriptor

    @property
    def raw(self) -> bytes:
        return self.raw_bytes


@dataclass(frozen=True, eq=False)
class ParsedImage(_Parsed):
    config_descriptor: Descriptor
    layer_descriptors: tuple[Descriptor, ...]
    subject: Descriptor | None = None

    @property
    def config_blob(self) -> Blob:
        return blob(self.source, self.config_descriptor, self.where)

    @property
    def layers(self) -> tuple[Blob, ...]:
        return tuple(blob(self.source, d, self.where) for d in self.layer_descriptors)

    def config(self) -> dict[str, Any]:
        """The image's config document, read and verified."""
        with self.config_blob.open() as src:
            return json.loads(src.read(MAX_MANIFEST))

    def blobs(self) -> Iterator[Blob]:
        yield from self.layers
        yield self.config_blob

    def child_manifests(self) -> Iterator[Blob]:
        return iter(())

    def images(self) -> tuple[Any, ...]:
        return (self,)


@dataclass(frozen=True, eq=False)
class ParsedManifest(_Parsed):
    """An artifact manifest (an SBOM, a signature, a build cache…): not a runnable image."""
    config_descriptor: Descriptor
    layer_descriptors: tuple[Descriptor, ...]
    subject: Descriptor | None
    artifact_type: str

    def blobs(self) -> Iterator[Blob]:
        yield from (blob(self.source, d, self.where) for d in self.layer_descriptors)
        yield blob(self.source, self.config_descriptor, self.where)

    def child_manifests(self) -> Iterator[Blob]:
        return iter(())

    def images(self) -> tuple[Any, ...]:
        return ()


@dataclass(frozen=True, eq=False)
class ParsedIndex(_Parsed):
    child_descriptors: tuple[Descriptor, ...]

    @cached_property
    def manifests(self) -> tuple[Artifact, ...]:
        """Every manifest the index lists, parsed (each read and verified once)."""
        return tuple(load(self.source, d, self.where) for d in self.child_descriptors)

    def blobs(self) -> Iterator[Blob]:
        return unique(b for m in self.manifests for b in m.blobs())

    def child_manifests(self) -> Iterator[Blob]:
        return unique(b for m in self.manifests for b in (*m.child_manifests(), m.root))

    def images(self) -> tuple[Any, ...]:
        return tuple(img for m in self.manifests for img in m.images())
