"""Referrers: manifests that name another as their `subject` (an SBOM, a signature, provenance).

Where they are found (image-spec manifest.md "subject", distribution-spec "Listing Referrers"):

- a registry with the OCI 1.1 referrers API lists them at /v2/NAME/referrers/DIGEST;
- a registry without it holds an index under the fallback tag `ALG-HEX` (`sha256-<hex>`),
  which every client that pushes a referrer there updates;
- an OCI layout (and so an oci-archive) lists them as untagged entries of index.json, as
  oras-go's OCI store writes them and `oras discover --oci-layout` reads them.

A referrer's descriptor in such a list carries the referrer's artifactType (or, lacking one,
its config's media type) and its annotations, so a client can filter without fetching it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from . import mediatypes
from .canonical import canonical_json
from .descriptor import Descriptor
from .digest import Digest
from .errors import OciError


def fallback_tag(digest: Digest) -> str:
    """The distribution spec's referrers tag schema: <alg>-<ref>, each part truncated."""
    return f"{digest.algorithm[:32]}-{digest.hex[:64]}"


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
