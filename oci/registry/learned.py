"""What `leango registry check` learned about a registry, kept for a day in the cache directory,
read by pushes (a light module: the no-change build path imports it without the client)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

MAX_AGE = 24 * 3600  # seconds a check's findings are used by pushes


def capabilities_path(cache_dir: Path, registry: str) -> Path:
    return cache_dir / "registries" / (registry.replace(":", "_").replace("/", "_") + ".json")


def learned_chunk_size(cache_dir: Path, registry: str, now: Callable[[], float] = time.time) -> int:
    """The chunk size a push to registry should use: 0 (monolithic) unless a check younger than
    MAX_AGE found monolithic uploads refused and chunks working; then its minimum (or 5 MiB)."""
    try:
        doc = json.loads(capabilities_path(cache_dir, registry).read_bytes())
        if now() - float(doc["checked"]) > MAX_AGE:
            return 0
        upload = doc["checks"]["upload"]["value"]
        if upload["monolithic"] is False and upload["chunked"]:
            return max(int(upload["minChunk"]), 5 * 1024 * 1024)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return 0


def learned_chunks(cache_dir: Path, now: Callable[[], float] = time.time) -> tuple[tuple[str, int], ...]:
    """Every registry a recent check found needing chunked uploads, with its chunk size."""
    out = []
    for path in sorted((cache_dir / "registries").glob("*.json")):
        try:
            registry = json.loads(path.read_bytes())["registry"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        size = learned_chunk_size(cache_dir, registry, now)
        if size:
            out.append((registry, size))
    return tuple(out)
