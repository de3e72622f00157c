"""Go build cache entries for tests: names of Go's form, content derived from a seed."""

from __future__ import annotations

import hashlib
from pathlib import Path


def entry_name(seed: str, kind: str = "d") -> str:
    h = hashlib.sha256(seed.encode()).hexdigest()
    return f"{h[:2]}/{h}-{kind}"


def fill(cache: Path, seeds, kind: str = "d", size: int = 100) -> list[str]:
    """Write one entry per seed (size rounded up to a multiple of 32 bytes); returns the names."""
    names = []
    for seed in seeds:
        name = entry_name(seed, kind)
        path = cache / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(hashlib.sha256(seed.encode()).digest() * (size // 32 + 1))
        names.append(name)
    return names
