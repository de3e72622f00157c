"""Verify an artifact read from any Source: every digest, size and diff ID re-derived from the
bytes, every document checked against the image-spec JSON schemas, and each image's entrypoint
handed to a check the caller gives (the builder's: a static ELF for the image's platform).

The first problem ends the walk with a VerifyError naming the blob or field; a report of what
was checked comes back otherwise. Nothing is trusted: manifests are parsed from bytes that hash
to their descriptors (parsed.py), blobs are read through VerifiedReader, layers decompressed and
hashed again for their diff IDs.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .descriptor import Descriptor, Platform
from .digest import copy_hashed
from .errors import OciError
from .layer import decompressed
from .parsed import MAX_MANIFEST, ParsedImage, ParsedIndex, ParsedManifest, blob
from .referrers import Tagged

Schemas = Callable[[str, bytes], None]  # (kind: manifest|index|config, document) → raises OciError
EntrypointCheck = Callable[[Path, Platform | None, str], None]  # (file, platform, label) → raises


class VerifyError(OciError):
    """What is wrong, naming the first bad blob or field."""


@dataclass
class VerifyReport:
    manifests: list[str] = field(default_factory=list)
    blobs: int = 0
    bytes: int = 0
    images: list[dict[str, str]] = field(default_factory=list)
    schemas: str = ""  # "checked", or why not

    def to_json(self) -> dict[str, Any]:
        return {"manifests": self.manifests, "blobs": self.blobs, "bytes": self.bytes, "images": self.images,
                "schemas": self.schemas}


class Verifier:
    def __init__(self, schemas: Schemas | None, entrypoint: EntrypointCheck | None):
        self.schemas, self.entrypoint = schemas, entrypoint
        self.report = VerifyReport()
        self._seen: set[str] = set()

    def artifact(self, artifact: ParsedImage | ParsedIndex | ParsedManifest | Tagged, what: str = "") -> None:
        what = what or f"manifest {artifact.digest}"
        if str(artifact.digest) in self._seen:
            return
        self._seen.add(str(artifact.digest))
        self.report.manifests.append(str(artifact.digest))
        # cosign's .sig/.att under their tags: image-shaped, but the layers are JSON documents.
        tagged = isinstance(artifact, Tagged)
        inner: Any = artifact.artifact if isinstance(artifact, Tagged) else artifact
        if isinstance(inner, ParsedIndex):
            self._schema("index", inner.raw, what)
            for child in inner.manifests:  # each parsed: its bytes hash to the index's descriptor
                platform = f" ({child.descriptor.platform})" if child.descriptor.platform else ""
                self.artifact(child, f"manifest {child.digest}{platform} of index {inner.digest}")  # type: ignore[arg-type]
        elif isinstance(inner, ParsedImage) and not tagged:
            self._schema("manifest", inner.raw, what)
            self._image(inner, what)
        else:
            self._schema("manifest", inner.raw, what)
            self._blobs(inner, what)

    def _blobs(self, artifact: ParsedImage | ParsedManifest, what: str) -> None:
        for desc in (artifact.config_descriptor, *artifact.layer_descriptors):
            self._read(artifact, desc, f"blob {desc.digest} of {what}")

    def _schema(self, kind: str, raw: bytes, what: str) -> None:
        if self.schemas is None:
            return
        try:
            self.schemas(kind, raw)
        except OciError as exc:
            raise VerifyError(f"{what} does not follow the image-spec {kind} schema: {exc}") from exc

    def _read(self, artifact: ParsedImage | ParsedManifest, desc: Descriptor, what: str) -> bytes:
        """The blob, read whole (small ones kept, others counted), verified against desc."""
        keep = desc.size <= MAX_MANIFEST
        try:
            with blob(artifact.source, desc, artifact.where).open() as src:
                data = src.read() if keep else b""
                if not keep:
                    copy_hashed(src, None)
        except OciError as exc:
            raise VerifyError(f"{what}: {exc}") from exc
        self.report.blobs += 1
        self.report.bytes += desc.size
        return data

    def _image(self, image: ParsedImage, what: str) -> None:
        raw = self._read(image, image.config_descriptor, f"config {image.config_descriptor.digest} of {what}")
        if not raw and image.config_descriptor.size:
            raise VerifyError(f"config {image.config_descriptor.digest} of {what} is larger than "
                              f"{MAX_MANIFEST} bytes")
        self._schema("config", raw, f"config {image.config_descriptor.digest} of {what}")
        try:
            config = json.loads(raw)
            said = list(config["rootfs"]["diff_ids"])
        except (ValueError, KeyError, TypeError) as exc:
            raise VerifyError(f"config {image.config_descriptor.digest} of {what} has no rootfs.diff_ids: "
                              f"{exc}") from exc
        if len(said) != len(image.layer_descriptors):
            raise VerifyError(f"config {image.config_descriptor.digest} of {what} lists {len(said)} diff IDs "
                              f"for {len(image.layer_descriptors)} layers")
        for n, (desc, expected) in enumerate(zip(image.layer_descriptors, said, strict=True), 1):
            label = f"layer {n} ({desc.digest}) of {what}"
            try:
                with blob(image.source, desc, image.where).open() as src, decompressed(src, desc.media_type) as tar:
                    actual = str(copy_hashed(tar, None)[0])
                    src.read()  # to the end: a blob longer than its size fails here, after the tar
            except OciError as exc:
                raise VerifyError(f"{label}: {exc}") from exc
            except (OSError, EOFError, ValueError) as exc:  # gzip/zstd: not what the media type says
                raise VerifyError(f"{label} is not a valid {desc.media_type}: {exc}") from exc
            if actual != expected:
                raise VerifyError(f"{label} has diff ID {actual}, the config says {expected}")
            self.report.blobs += 1
            self.report.bytes += desc.size
        platform = image.descriptor.platform or _platform(config)
        entry = self._entrypoint(image, config, platform, what)
        self.report.images.append({"manifest": str(image.digest), "platform": str(platform or ""),
                                   "entrypoint": entry})

    def _entrypoint(self, image: ParsedImage, config: dict[str, Any], platform: Platform | None, what: str) -> str:
        run = (config.get("config") or {})
        argv = run.get("Entrypoint") or run.get("Cmd") or []
        if not argv or self.entrypoint is None:
            return str(argv[0]) if argv else ""
        path = str(argv[0])
        with tempfile.TemporaryDirectory(prefix="leango-verify-") as tmp:
            found = _extract(image, path, Path(tmp) / "entrypoint")
            if found is None:
                raise VerifyError(f"the entrypoint {path} of {what} is not a regular file in any layer")
            self.entrypoint(found, platform, f"the entrypoint {path} of {what}")
        return path


def _platform(config: dict[str, Any]) -> Platform | None:
    try:
        return Platform(config["os"], config["architecture"], config.get("variant", ""))
    except (KeyError, TypeError):
        return None


def _extract(image: ParsedImage, path: str, dest: Path) -> Path | None:
    """The file at path as the image's layers leave it (the topmost layer naming it wins)."""
    name = os.path.normpath(path).lstrip("/")
    whiteout = os.path.join(os.path.dirname(name), ".wh." + os.path.basename(name))
    for desc in reversed(image.layer_descriptors):
        with blob(image.source, desc, image.where).open() as src, decompressed(src, desc.media_type) as stream, \
                tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                member_name = os.path.normpath(member.name).lstrip("/")
                if member_name == whiteout:
                    return None  # deleted by this layer
                if member_name != name:
                    continue
                if not member.isfile():
                    return None  # a link or a whiteout's target: not a binary to check
                with tar.extractfile(member) as data, open(dest, "wb") as out:  # type: ignore[union-attr]
                    shutil.copyfileobj(data, out)
                return dest
    return None


def verify(artifact: ParsedImage | ParsedIndex | ParsedManifest, referrers: Sequence[Any] = (),
           *, schemas: Schemas | None = None, entrypoint: EntrypointCheck | None = None,
           schemas_note: str = "checked") -> VerifyReport:
    """Verify artifact and each of referrers; raise VerifyError on the first problem."""
    v = Verifier(schemas, entrypoint)
    v.report.schemas = schemas_note if schemas is not None else schemas_note or "not checked"
    v.artifact(artifact)
    for referrer in referrers:
        v.artifact(referrer, f"{referrer.tag} ({referrer.digest})" if isinstance(referrer, Tagged)
                   else f"referrer {referrer.digest}")
    return v.report
