"""Merge per-platform images (or indexes) into one index: the fan-in of a CI matrix.

Each runner builds its platform and pushes it by digest; one job then names them all and gets
one index, as `docker buildx imagetools create` and `crane index append` do. Nothing is
rebuilt and no layer is pulled when the sources live in the target's registry: the index lists
the very manifests (their bytes unchanged, so their digests too), each with the platform its
config names, and the target repository gets their blobs by cross-repository mount.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import replace

from .artifact import Artifact
from .descriptor import Descriptor, Platform
from .errors import OciError
from .index import Index
from .parsed import ParsedImage, ParsedIndex, ParsedManifest

log = logging.getLogger(__name__)


def platform_images(artifact: ParsedImage | ParsedIndex | ParsedManifest, where: str) -> list[Artifact]:
    """The images artifact holds, each with a descriptor that names its platform."""
    if isinstance(artifact, ParsedIndex):
        return list(artifact.manifests)
    if isinstance(artifact, ParsedManifest):
        raise OciError(f"{where} is an artifact ({artifact.artifact_type}), not an image or an index")
    try:
        config = json.loads(artifact.config_blob.open().read())
        platform = Platform(config["os"], config["architecture"], config.get("variant", ""))
    except (ValueError, KeyError, TypeError) as exc:
        raise OciError(f"{where}: the image's config names no platform: {exc}") from exc
    d = artifact.descriptor
    return [replace(artifact, parsed_descriptor=Descriptor(d.media_type, d.digest, d.size, d.annotations, platform,
                                                            d.artifact_type))]


def merged(groups: Sequence[tuple[str, ParsedImage | ParsedIndex | ParsedManifest]],
           existing: Sequence[Artifact] = (), annotations: dict[str, str] | None = None) -> Index:
    """One index of existing's images and every group's, a later one replacing an earlier one of
    the same platform (a matrix job run again); the same image named twice is listed once."""
    chosen: dict[Platform | None, Artifact] = {}
    for image in existing:
        chosen[image.descriptor.platform] = image
    for where, artifact in groups:
        for image in platform_images(artifact, where):
            platform = image.descriptor.platform
            if platform is None:
                raise OciError(f"{where}: an index entry {image.digest} names no platform")
            before = chosen.get(platform)
            if before is not None and before.digest != image.digest:
                log.warning("%s replaces the %s image %s", where, platform, before.digest)
            chosen[platform] = image
    if not chosen:
        raise OciError("nothing to put in the index")
    ordered = sorted(chosen.values(), key=lambda a: str(a.descriptor.platform))
    return Index(tuple(ordered), tuple(sorted((annotations or {}).items())))
