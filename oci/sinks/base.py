"""The Sink contract: every output takes (artifact, references) and says what it wrote.

The pipeline holds a list of sinks; adding one (containers-storage, containerd)
touches no other sink.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from ..artifact import Artifact
from ..reference import Reference

if TYPE_CHECKING:
    from .registry import PushResult

SinkKind = Literal["oci_layout", "oci_archive", "tarball", "registry", "podman", "containerd"]
FILE_KINDS = ("oci_layout", "oci_archive", "tarball")


@dataclass(frozen=True)
class SinkResult:
    kind: SinkKind
    location: str  # a path, or the registries pushed to
    references: tuple[Reference, ...] = ()  # the names written, with the artifact's digest
    pushed: tuple[PushResult, ...] = ()  # a registry's: what each reference's push did

    @property
    def is_file(self) -> bool:
        """Written to this machine's disk (a layout or an archive), not pushed or loaded."""
        return self.kind in FILE_KINDS


class Sink(Protocol):
    @property
    def kind(self) -> SinkKind:
        """What the result calls this output: "oci_layout", "oci_archive", "tarball", "registry"…"""
        ...

    def write(self, artifact: Artifact, references: Sequence[Reference],
              referrers: Sequence[Artifact] = ()) -> SinkResult:
        """Write artifact under every reference (or unnamed when there are none), and each of
        referrers (manifests whose subject is artifact, or one of its children or referrers)
        where that output keeps referrers: a registry's referrers API or fallback tag, a
        layout's untagged index.json entries."""
        ...


def named(artifact: Artifact, references: Sequence[Reference]) -> tuple[Reference, ...]:
    return tuple(r.with_digest(artifact.digest) for r in references)
