"""Platform and Descriptor values (image-spec descriptor.md, image-index.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .digest import Digest
from .errors import OciError

# containerd platforms.normalizeArch: names other tools use → (OCI architecture, implied variant)
_ARCH_ALIASES = {"x86_64": ("amd64", ""), "x86-64": ("amd64", ""), "aarch64": ("arm64", ""),
                 "armhf": ("arm", "v7"), "armel": ("arm", "v6"), "i386": ("386", ""), "i686": ("386", "")}


@dataclass(frozen=True, order=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        """OS/ARCH[/VARIANT], normalised as containerd's platforms package does: lower case,
        architecture aliases (x86_64, aarch64, armhf…), arm64/v8 as arm64, arm as arm/v7.
        The one parser: the builder adds which platforms it can build for."""
        parts = text.strip().lower().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise OciError(f"malformed platform {text!r}: expected OS/ARCH[/VARIANT]")
        os_name, arch, variant = parts[0], parts[1], parts[2] if len(parts) == 3 else ""
        arch, implied = _ARCH_ALIASES.get(arch, (arch, ""))
        variant = variant or implied
        if arch == "arm64" and variant == "v8":
            variant = ""
        elif arch == "arm" and not variant:
            variant = "v7"
        return cls(os_name, arch, variant)

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
