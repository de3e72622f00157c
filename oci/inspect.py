"""What an artifact holds, for `leango inspect`: platforms, layers (compressed and uncompressed
sizes, optionally their files with modes and owners), the config's runtime settings.

Every layer is read once, through the Source's verifying reader, to count its uncompressed bytes
(and list its files): a layer that is not what its digest says fails here as it would in a copy.
"""

from __future__ import annotations

import tarfile
from typing import IO, Any

import zstandard

from .blob import Blob
from .errors import OciError
from .layer import decompressed
from .parsed import ParsedImage, ParsedIndex, ParsedManifest
from .referrers import Tagged

CHUNK = 1 << 20
_CONFIG_KEYS = ("Entrypoint", "Cmd", "User", "Env", "WorkingDir", "ExposedPorts", "Labels", "StopSignal")


class _Counting:
    """A read-only stream that counts what passes (the uncompressed size of a layer)."""

    def __init__(self, inner: IO[bytes]):
        self.inner, self.size = inner, 0

    def read(self, n: int = -1) -> bytes:
        data = self.inner.read(n)
        self.size += len(data)
        return data


def layer(blob: Blob, *, files: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"mediaType": blob.descriptor.media_type, "digest": str(blob.digest), "size": blob.size}
    with blob.open() as raw:
        counting = _Counting(decompressed(raw, blob.descriptor.media_type))
        listed = []
        try:
            with tarfile.open(fileobj=counting, mode="r|") as tar:  # type: ignore[call-overload]
                for member in tar:
                    if files:
                        listed.append({"path": member.name, "type": _kind(member), "mode": f"{member.mode:04o}",
                                       "uid": member.uid, "gid": member.gid, "size": member.size,
                                       **({"link": member.linkname} if member.linkname else {})})
        except (tarfile.TarError, OSError, zstandard.ZstdError, EOFError) as exc:
            raise OciError(f"layer {blob.digest} is not a readable tar: {exc}") from exc
        while counting.read(CHUNK):  # the tar's end padding counts too
            pass
    out["uncompressedSize"] = counting.size
    if files:
        out["files"] = listed
    return out


def _kind(member: tarfile.TarInfo) -> str:
    return {tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink"}.get(
        member.type, "file" if member.isfile() else "other")


def image(img: ParsedImage, *, files: bool) -> dict[str, Any]:
    config = img.config()
    runtime = config.get("config") or {}
    return {
        "digest": str(img.digest),
        "platform": "/".join(p for p in (config.get("os", ""), config.get("architecture", ""),
                                          config.get("variant", "")) if p),
        "config": {k: runtime[k] for k in _CONFIG_KEYS if runtime.get(k) not in (None, [], {}, "")},
        "created": config.get("created", ""),
        "layers": [layer(b, files=files) for b in img.layers],
    }


def describe(artifact: ParsedImage | ParsedIndex | ParsedManifest, *, files: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"digest": str(artifact.digest), "mediaType": artifact.media_type}
    if isinstance(artifact, ParsedIndex):
        out["manifests"] = [describe(m, files=files) for m in artifact.manifests]  # type: ignore[arg-type]
    elif isinstance(artifact, ParsedImage):
        out.update(image(artifact, files=files))
    else:
        out["artifactType"] = artifact.artifact_type
        out["layers"] = [{"mediaType": d.media_type, "digest": str(d.digest), "size": d.size,
                          **({"title": t} if (t := d.annotation("org.opencontainers.image.title")) else {})}
                         for d in artifact.layer_descriptors]
    if getattr(artifact, "subject", None) is not None:
        out["subject"] = str(artifact.subject.digest)  # type: ignore[union-attr]
    return out


def render(doc: dict[str, Any], indent: str = "") -> list[str]:
    """The description as lines for a terminal."""
    lines = [f"{indent}{doc['digest']}  {doc['mediaType']}"]
    if "manifests" in doc:
        for child in doc["manifests"]:
            lines += render(child, indent + "  ")
        return lines + _referrer_lines(doc, indent)
    if "platform" in doc:
        lines.append(f"{indent}  {'platform':<11} {doc['platform']}")
        for key, value in doc["config"].items():
            shown = " ".join(value) if isinstance(value, list) else ", ".join(
                k if v in ({}, None) else f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else value
            lines.append(f"{indent}  {key:<11} {shown}")
    if "artifactType" in doc:
        lines.append(f"{indent}  {'artifact':<11} {doc['artifactType']}")
    for i, lay in enumerate(doc.get("layers", [])):
        sizes = f"{lay['size']:>10} B" + (f"  ({lay['uncompressedSize']} B uncompressed)"
                                           if "uncompressedSize" in lay else "")
        lines.append(f"{indent}  layer {i}  {lay['digest'][:19]}  {sizes}  {lay['mediaType']}")
        for f in lay.get("files", []):
            target = f" -> {f['link']}" if "link" in f else ""
            owner = f"{f['uid']}:{f['gid']}"
            lines.append(f"{indent}    {f['mode']} {owner:<12} {f['size']:>10}  {f['path']}{target}")
    if "subject" in doc:
        lines.append(f"{indent}  {'subject':<11} {doc['subject']}")
    return lines + _referrer_lines(doc, indent)


def _referrer_lines(doc: dict[str, Any], indent: str) -> list[str]:
    return [f"{indent}  {'referrer':<11} {ref['digest'][:19]}  {ref['artifactType'] or ref['mediaType']}"
            + (f"  (tag {ref['tag']})" if ref.get("tag") else f"  (of {ref['subject'][:19]})")
            for ref in doc.get("referrers", [])]


def describe_referrers(referrers: list[Any]) -> list[dict[str, str]]:
    """What is attached: each referrer's digest, type and the subject it names; an attachment by
    tag (cosign's sha256-<hex>.sig) with its tag."""
    out = []
    for r in referrers:
        subject = getattr(r, "subject", None)
        entry = {"digest": str(r.digest), "mediaType": r.media_type,
                 "artifactType": getattr(r, "artifact_type", "") or "",
                 "subject": str(subject.digest) if subject is not None else ""}
        if isinstance(r, Tagged):
            entry["tag"] = r.tag
        out.append(entry)
    return out
