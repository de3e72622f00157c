"""The one JSON encoder: sorted keys, compact separators, UTF-8.

Every config, manifest and index is serialised here exactly once; the bytes
returned are the bytes hashed, written and pushed (no document is re-serialised
between hashing and writing).
"""

from __future__ import annotations

import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")
