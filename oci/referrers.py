"""Referrers: manifests that name another as their `subject` (an SBOM, a signature, provenance).

Where they are found (image-spec manifest.md "subject", distribution-spec "Listing Referrers"):

- a registry with the OCI 1.1 referrers API lists them at /v2/NAME/referrers/DIGEST;
- a registry without it holds an index under the fallback tag `ALG-HEX` (`sha256-<hex>`),
  which every client that pushes a referrer there updates;
- an OCI layout (and so an oci-archive) lists them as untagged entries of index.json, as
  oras-go's OCI store writes them and `oras discover --oci-layout` reads them.

Some attachments name their subject by tag instead: cosign's signatures (`sha256-<hex>.sig`),
attestations (`.att`) and SBOMs (`.sbom`, also ko's). They are carried as `Tagged` artifacts:
pushed under that tag, written into a layout as an entry of that name.

A referrer's descriptor in such a list carries the referrer's artifactType (or, lacking one,
its config's media type) and its annotations, so a client can filter without fetching it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import mediatypes
from .artifact import RawArtifact
from .canonical import canonical_json
from .descriptor import Descriptor
from .digest import Digest
from .errors import OciError

if TYPE_CHECKING:
    from .artifact import Artifact
    from .blob import Blob
    from .image import Image

TAG_SUFFIXES = ("sig", "att", "sbom")
_ATTACHMENT_TAG = re.compile(r"sha256-[0-9a-f]{64}(\.(sig|att|sbom))?")


def fallback_tag(digest: Digest) -> str:
    """The distribution spec's referrers tag schema: <alg>-<ref>, each part truncated."""
    return f"{digest.algorithm[:32]}-{digest.hex[:64]}"


def attachment_tags(digest: Digest) -> tuple[str, ...]:
    """The tags where attachments of digest are found by name: cosign's .sig, .att and .sbom."""
    return tuple(f"{fallback_tag(digest)}.{suffix}" for suffix in TAG_SUFFIXES)


def is_attachment_tag(name: str) -> bool:
    """True for a fallback tag or an attachment tag (a layout's entry may carry a repository before
    the tag: REPO:sha256-<hex>.sig)."""
    return _ATTACHMENT_TAG.fullmatch(name.rpartition(":")[2]) is not None


def subject_of(raw: bytes) -> Digest | None:
    """The digest a manifest names as its subject, or None (also for what is not a manifest)."""
    try:
        doc = json.loads(raw)
        subject = doc.get("subject") if isinstance(doc, dict) else None
        return Digest.parse(subject["digest"]) if isinstance(subject, dict) else None
    except (ValueError, KeyError, TypeError, OciError):
        return None


def referrer_descriptor(raw: bytes, media_type: str) -> Descriptor:
    """The descriptor a referrers list holds for the manifest raw."""
    doc = json.loads(raw)
    artifact_type = doc.get("artifactType") or (doc.get("config") or {}).get("mediaType", "")
    annotations = doc.get("annotations") or {}
    return Descriptor(media_type, Digest.of_bytes(raw), len(raw),
                      tuple(sorted((str(k), str(v)) for k, v in annotations.items())),
                      artifact_type=artifact_type)


def referrers_index(descriptors: Iterable[Descriptor]) -> bytes:
    """A referrers list (the API's reply, or the fallback tag's content): an OCI index."""
    return canonical_json({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX,
                           "manifests": [d.to_json() for d in descriptors]})


def parse_referrers(raw: bytes, where: str) -> list[Descriptor]:
    try:
        doc = json.loads(raw)
        return [Descriptor.from_json(m) for m in doc.get("manifests") or []]
    except (ValueError, AttributeError, TypeError, OciError) as exc:
        raise OciError(f"the referrers list of {where} is not an OCI index: {exc}") from exc


def filtered(descriptors: Iterable[Descriptor], artifact_type: str = "") -> list[Descriptor]:
    """Each referrer once, those of artifact_type only when one is given."""
    seen: dict[Digest, Descriptor] = {}
    for d in descriptors:
        if (not artifact_type or d.artifact_type == artifact_type) and d.digest not in seen:
            seen[d.digest] = d
    return list(seen.values())


# What a Tagged attachment does when its tag already holds something else: the merged artifact,
# from the bytes of the manifest there and a Blob for each descriptor that manifest names;
# ValueError when the manifest there cannot be merged with.
Merge = Callable[[bytes, Callable[[Descriptor], "Blob"]], "Artifact"]


@dataclass(frozen=True)
class Tagged(RawArtifact):
    """An artifact attached by a tag naming its subject's digest (sha256-<hex>.sig), not by a
    subject field. With merge, a write to a tag already holding another manifest keeps what is
    there (cosign appends a signature to the .sig manifest; it never replaces another's)."""
    tag: str
    artifact: Artifact
    merge: Merge | None = None

    def __post_init__(self) -> None:
        if not is_attachment_tag(self.tag) or ":" in self.tag:
            raise OciError(f"{self.tag!r} is not an attachment tag (sha256-<hex>.sig, .att or .sbom)")

    @property
    def descriptor(self) -> Descriptor:
        return self.artifact.descriptor

    @property
    def raw(self) -> bytes:
        return self.artifact.raw

    def blobs(self) -> Iterator[Blob]:
        return self.artifact.blobs()

    def child_manifests(self) -> Iterator[Blob]:
        return self.artifact.child_manifests()

    def images(self) -> tuple[Image, ...]:
        # A signature is shaped as an image (cosign's .sig) but runs nothing.
        return ()

    def merged(self, existing: bytes | None, blob_of: Callable[[Descriptor], Blob]) -> Artifact:
        """What to write under the tag, given the manifest it holds now (None: nothing)."""
        if existing is None or self.merge is None or Digest.of_bytes(existing) == self.digest:
            return self.artifact
        try:
            return self.merge(existing, blob_of)
        except ValueError as exc:  # json's errors are ValueErrors too
            raise OciError(f"{self.tag} holds a manifest leango cannot add to, and does not replace: "
                           f"{exc}") from None
