"""Outputs for an artifact: OCI layout, OCI archive, docker archive, registry — one Sink protocol.

Names load on first use, so the offline sinks do not import the registry client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .archive import OciArchiveSink
    from .base import Sink, SinkResult
    from .docker_archive import DockerArchiveSink
    from .layout import LayoutSink
    from .registry import PushResult, RegistrySink

_WHERE = {"OciArchiveSink": ".archive", "Sink": ".base", "SinkResult": ".base", "DockerArchiveSink": ".docker_archive",
          "LayoutSink": ".layout", "PushResult": ".registry", "RegistrySink": ".registry"}

__all__ = ["DockerArchiveSink", "LayoutSink", "OciArchiveSink", "PushResult", "RegistrySink", "Sink",
           "SinkResult"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
