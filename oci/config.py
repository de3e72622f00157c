"""ImageConfig → canonical bytes (image-spec config.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .canonical import canonical_json
from .descriptor import Platform
from .digest import Digest


def rfc3339(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class History:
    created_by: str
    comment: str = ""
    empty_layer: bool = False


@dataclass(frozen=True)
class ImageConfig:
    platform: Platform
    diff_ids: tuple[Digest, ...]
    history: tuple[History, ...]
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    user: str = ""
    working_dir: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    exposed_ports: tuple[str, ...] = ()  # PORT/PROTO
    stop_signal: str = ""
    created: int = 0

    def to_json(self) -> dict[str, Any]:
        runtime: dict[str, Any] = {}
        for key, value in (("Entrypoint", list(self.entrypoint)), ("Cmd", list(self.cmd)),
                           ("Env", list(self.env)), ("User", self.user),
                           ("WorkingDir", self.working_dir), ("Labels", dict(self.labels)),
                           ("ExposedPorts", {p: {} for p in self.exposed_ports}), ("StopSignal", self.stop_signal)):
            if value:
                runtime[key] = value
        created = rfc3339(self.created)
        out = self.platform.to_json() | {
            "created": created,
            "config": runtime,
            "rootfs": {"type": "layers", "diff_ids": [str(d) for d in self.diff_ids]},
            "history": [_history_json(h, created) for h in self.history],
        }
        return out

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())


def _history_json(entry: History, created: str) -> dict[str, Any]:
    out: dict[str, Any] = {"created": created, "created_by": entry.created_by}
    if entry.comment:
        out["comment"] = entry.comment
    if entry.empty_layer:
        out["empty_layer"] = True
    return out
