"""The Go build cache's registry side: restore (--cache-from) and save (--cache-to), through the
one registry client. What a chunk is and how it is packed and unpacked is gocache.py's."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..oci import Reference
from ..oci.atomic import atomic_writer
from ..oci.blob import Blob
from ..oci.descriptor import Descriptor
from ..oci.errors import OciError, RegistryError
from ..oci.manifest import Manifest
from .gocache import (
    ARTIFACT_TYPE,
    CHUNK_TYPE,
    MAX_CHUNK_UNPACKED,
    CacheError,
    CacheKey,
    RemoteCache,
    Store,
    pack,
    unpack,
)

if TYPE_CHECKING:
    from ..oci.registry.client import Repository

log = logging.getLogger(__name__)


def manifest_for(key: CacheKey, chunks: list[Blob]) -> Manifest:
    return Manifest(ARTIFACT_TYPE, tuple(chunks), annotations=key.annotations())


def restore(remote: RemoteCache, key: CacheKey, build_cache: Path, store: Store,
            deadline: float | None = None) -> int:
    """Pull every --cache-from whose key matches into build_cache; returns files added.
    A cache is an optimisation: a missing, mismatched or unreadable one is logged and skipped,
    and so is what is left of it once the monotonic deadline (--timeout's) has passed."""
    added = 0
    for ref in remote.cache_from:
        try:
            added += _restore_one(remote, ref, key, build_cache, store, deadline)
        except (RegistryError, CacheError) as exc:
            log.warning("not using the Go build cache at %s: %s", ref, exc)
    if remote.cache_from:
        store.save()
    return added


def _restore_one(remote: RemoteCache, ref: Reference, key: CacheKey, build_cache: Path, store: Store,
                 deadline: float | None) -> int:
    from ..oci.registry.client import Registry

    added = 0
    with Registry(remote.credentials, remote.registry) as client:
        repo = client.repository(ref.registry, ref.repository)
        try:
            fetched = repo.manifest(str(ref.digest) if ref.digest else ref.tag)
        except RegistryError as exc:
            if exc.not_found:
                log.info("no Go build cache at %s yet", ref)
                return 0
            raise
        layers = _cache_layers(fetched.raw, ref, key)
        if layers is None:
            return 0
        for desc in layers:
            if deadline is not None and time.monotonic() > deadline:
                raise CacheError("--timeout reached while pulling it; the build goes on without the rest")
            if desc.digest.algorithm == "sha256" and str(desc.digest) in store.chunks \
                    and store.blob_path(str(desc.digest)).is_file():
                path = store.blob_path(str(desc.digest))
            else:
                path = _download(repo, desc, store)
            with open(path, "rb") as blob:
                unpacked = unpack(blob, build_cache)
            store.chunks[str(desc.digest)] = unpacked.idents
            added += unpacked.added
    log.info("Go build cache from %s: %d chunks, %d entries added", ref, len(layers), added)
    return added


def _cache_layers(raw: bytes, ref: Reference, key: CacheKey) -> list[Descriptor] | None:
    try:
        doc = json.loads(raw)
        if not isinstance(doc, dict):
            raise ValueError("not an object")
        layers = [Descriptor.from_json(d) for d in doc.get("layers", [])]
    except (ValueError, OciError) as exc:
        raise CacheError(f"the manifest is malformed: {exc}") from exc
    if doc.get("artifactType") != ARTIFACT_TYPE:
        raise CacheError(f"it is a {doc.get('artifactType') or doc.get('mediaType')}, not a leango Go build cache")
    annotations: dict[str, Any] = doc["annotations"] if isinstance(doc.get("annotations"), dict) else {}
    why = key.mismatch({k: str(v) for k, v in annotations.items()})
    if why:
        log.warning("ignoring the Go build cache at %s: %s", ref, why)
        return None
    for desc in layers:
        if desc.media_type != CHUNK_TYPE:
            raise CacheError(f"layer {desc.digest} is a {desc.media_type}, not a cache chunk")
        if not 0 <= desc.size <= MAX_CHUNK_UNPACKED:  # compressed, a chunk is no larger than unpacked
            raise CacheError(f"layer {desc.digest} declares {desc.size} bytes, more than a chunk may be")
    return layers


def _download(repo: Repository, desc: Descriptor, store: Store) -> Path:
    path = store.blob_path(str(desc.digest))
    with atomic_writer(path) as out:  # a chunk that fails its digest never reaches the store
        repo.blob(desc, out)
    return path


def save(remote: RemoteCache, key: CacheKey, build_cache: Path, store: Store) -> str:
    """Push build_cache to --cache-to; returns a one-line summary."""
    from ..oci.sinks.registry import push

    assert remote.cache_to is not None
    chunks = pack(build_cache, store)
    artifact = manifest_for(key, chunks)
    results = push(artifact, [remote.cache_to], credentials=remote.credentials, options=remote.registry)
    ours = {str(c.digest) for c in chunks}
    sent = [b for b in results[0].report.blobs if b.action == "uploaded" and b.digest in ours]
    return (f"pushed the Go build cache to {remote.cache_to}: {len(chunks)} chunks, {len(sent)} uploaded "
            f"({sum(b.size for b in sent) / 1e6:.1f} MB)")
