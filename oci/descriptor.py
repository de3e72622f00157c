"""Platform and Descriptor values (image-spec descriptor.md, image-index.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .digest import Digest
from .errors import OciError


@dataclass(frozen=True, order=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise OciError(f"malformed platform {text!r}: expected OS/ARCH[/VARIANT]")
        return cls(*parts)

    def to_json(self) -> dict[str, str]:
        out = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            out["variant"] = self.variant
        return out

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    annotations: tuple[tuple[str, str], ...] = ()
    platform: Platform | None = None
    artifact_type: str = ""

    def with_annotations(self, **extra: str) -> Descriptor:
        merged = dict(self.annotations) | extra
        return Descriptor(
            self.media_type, self.digest, self.size,
            tuple(sorted(merged.items())), self.platform, self.artifact_type,
        )

    def annotation(self, key: str) -> str | None:
        return dict(self.annotations).get(key)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type, "digest": str(self.digest), "size": self.size,
        }
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Descriptor:
        try:
            plat = obj.get("platform")
            return cls(
                media_type=obj["mediaType"],
                digest=Digest.parse(obj["digest"]),
                size=int(obj["size"]),
                annotations=tuple(sorted((obj.get("annotations") or {}).items())),
                platform=Platform(plat["os"], plat["architecture"], plat.get("variant", ""))
                if plat else None,
                artifact_type=obj.get("artifactType", ""),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # AttributeError: a list for an object
            raise OciError(f"malformed descriptor {obj!r}: {exc}") from exc
