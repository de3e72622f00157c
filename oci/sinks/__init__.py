"""Outputs for an artifact: OCI layout, OCI archive, docker archive, registry — one Sink protocol."""

from .archive import OciArchiveSink
from .base import Sink, SinkResult
from .docker_archive import DockerArchiveSink
from .layout import LayoutSink
from .registry import PushResult, RegistrySink

__all__ = ["DockerArchiveSink", "LayoutSink", "OciArchiveSink", "PushResult", "RegistrySink", "Sink",
           "SinkResult"]
