"""SBOMs of Go images: SPDX 2.3 and CycloneDX 1.6 JSON, from the image's own bytes.

What an image holds is read from the image, not from the build that made it, so one code path
serves a fresh build, a build reused from its record and `leango sbom` on an image leango did
not build: the entrypoint's Go build information (builder/buildinfo.py: main module, every
dependency with version and h1: sum, the Go version, the build settings) and every regular file
of its layers with its digests (the CA bundle, /etc/passwd, the data files…).

Deterministic: the same image gives the same bytes (identifiers derive from the image's
manifest digest, the time is the image's creation time), so an SBOM is reproducible and
re-pushing it uploads nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tarfile
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packageurl import PackageURL

from .._version import version
from ..oci.blob import Blob
from ..oci.canonical import canonical_json
from ..oci.config import rfc3339
from ..oci.descriptor import Descriptor
from ..oci.digest import Digest
from ..oci.layer import decompressed
from ..oci.manifest import Manifest
from . import buildinfo
from .buildinfo import BuildInfo, Module
from .errors import BuildError

SPDX_TYPE = "application/spdx+json"
CYCLONEDX_TYPE = "application/vnd.cyclonedx+json"
FORMATS = {"spdx": SPDX_TYPE, "cyclonedx": CYCLONEDX_TYPE}
FILE_NAMES = {"spdx": "sbom.spdx.json", "cyclonedx": "sbom.cdx.json"}
TITLE = "org.opencontainers.image.title"
NAMESPACE = "https://leango.dev/spdx/"  # + the image's manifest digest: unique per image, stable per build
SETTINGS_RECORDED = ("-tags", "-ldflags", "-trimpath", "GOOS", "GOARCH", "GOAMD64", "GOARM", "CGO_ENABLED",
                     "-buildmode", "vcs", "vcs.revision", "vcs.time", "vcs.modified")


class SbomError(BuildError):
    """The image cannot be described (no Go entrypoint, unreadable layers)."""


def parse_formats(text: str) -> tuple[str, ...]:
    """--sbom: spdx, cyclonedx, both comma-separated, or none."""
    items = [t.strip().lower() for t in text.split(",") if t.strip()]
    if items == ["none"]:
        return ()
    unknown = [t for t in items if t not in FORMATS]
    if unknown or not items:
        raise SbomError(f"--sbom {text!r}: choose spdx, cyclonedx, spdx,cyclonedx or none")
    return tuple(dict.fromkeys(items))


@dataclass(frozen=True)
class ImageFile:
    path: str  # absolute, in the image
    sha256: str
    sha1: str
    size: int


@dataclass(frozen=True)
class Described:
    """What an image holds, as the SBOMs list it."""
    name: str  # the binary's name
    manifest: Descriptor  # the image's, with its platform
    created: str  # RFC 3339
    entrypoint: str
    info: BuildInfo
    files: tuple[ImageFile, ...]


def describe(image: Any, name: str = "") -> Described:
    """Read the image (an Image or a ParsedImage): its config, its files and its entrypoint's build info."""
    config = json.loads(image.config_blob.open().read())
    argv = (config.get("config") or {}).get("Entrypoint") or (config.get("config") or {}).get("Cmd") or []
    if not argv:
        raise SbomError(f"image {image.digest} has no entrypoint to describe")
    entrypoint = os.path.normpath(str(argv[0])).lstrip("/")
    files: dict[str, ImageFile] = {}
    info: BuildInfo | None = None
    with tempfile.TemporaryDirectory(prefix="leango-sbom-") as tmp:
        for layer in _layer_blobs(image):
            for member_name, member, data in _members(layer):
                path = os.path.normpath(member_name).lstrip("/")
                base = os.path.basename(path)
                if base.startswith(".wh."):
                    files.pop(os.path.join(os.path.dirname(path), base[4:]), None)
                    continue
                if not member.isfile() or data is None:
                    files.pop(path, None)
                    continue
                target = Path(tmp) / "entry"
                sha256, sha1, size = _hash_to(data, target if path == entrypoint else None)
                files[path] = ImageFile("/" + path, sha256, sha1, size)
                if path == entrypoint:
                    info = buildinfo.read(target)
    if info is None:
        raise SbomError(f"the entrypoint /{entrypoint} of image {image.digest} is not a regular file in its layers")
    platform = image.descriptor.platform
    manifest = image.descriptor if platform else Descriptor(image.descriptor.media_type, image.digest,
                                                           image.descriptor.size, platform=_platform(config))
    return Described(name or os.path.basename(entrypoint), manifest, config.get("created") or rfc3339(0),
                     "/" + entrypoint, info, tuple(files[k] for k in sorted(files)))


def _platform(config: dict[str, Any]) -> Any:
    from ..oci.descriptor import Platform
    try:
        return Platform(config["os"], config["architecture"], config.get("variant", ""))
    except (KeyError, TypeError):
        return None


def _layer_blobs(image: Any) -> list[Blob]:
    layers = image.layers
    return [layer.blob if hasattr(layer, "blob") else layer for layer in layers]


def _members(layer: Blob) -> Iterator[tuple[str, tarfile.TarInfo, Any]]:
    with layer.open() as raw, decompressed(raw, layer.descriptor.media_type) as stream, \
            tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            yield member.name, member, tar.extractfile(member) if member.isfile() else None


def _hash_to(src: Any, dest: Path | None) -> tuple[str, str, int]:
    h256, h1, size = hashlib.sha256(), hashlib.sha1(usedforsecurity=False), 0
    out = open(dest, "wb") if dest is not None else None  # noqa: SIM115 -- closed below
    try:
        while chunk := src.read(1 << 20):
            h256.update(chunk)
            h1.update(chunk)
            size += len(chunk)
            if out is not None:
                out.write(chunk)
    finally:
        if out is not None:
            out.close()
    return h256.hexdigest(), h1.hexdigest(), size


# -- shared pieces ---------------------------------------------------------------------------

def main_module(d: Described) -> Module:
    """What was built: the main module, or for a binary built outside any module (the Go
    toolchain's own commands, `go build file.go`) its main package's path, else the binary's name."""
    main = d.info.main.effective
    return main if main.path else Module(d.info.path or d.name, main.version)


def purl(module: Module) -> str:
    namespace, _, name = module.path.rpartition("/")
    return PackageURL("golang", namespace or None, name, module.version or None).to_string()


def stdlib_purl(go_version: str) -> str:
    return PackageURL("golang", None, "stdlib", go_version.removeprefix("go") or None).to_string()


def image_purl(d: Described) -> str:
    qualifiers = {}
    if d.manifest.platform is not None:
        qualifiers["arch"] = d.manifest.platform.architecture
        qualifiers["os"] = d.manifest.platform.os
    return PackageURL("oci", None, d.name, str(d.manifest.digest), qualifiers or None).to_string()


def h1_hex(module: Module) -> str:
    """An h1: sum is base64 SHA-256 (of the module's file list); as hex for checksum fields."""
    if not module.sum.startswith("h1:"):
        return ""
    try:
        return base64.b64decode(module.sum[3:], validate=True).hex()
    except ValueError:
        return ""


def _settings(info: BuildInfo) -> list[tuple[str, str]]:
    return [(k, v) for k, v in info.settings if k in SETTINGS_RECORDED or k.startswith("vcs")]


def _modules(info: BuildInfo) -> list[Module]:
    """Each dependency as compiled (a replacement in place of what it replaces)."""
    return [m.effective if m.replace and m.replace.version else m for m in info.deps]


# -- SPDX 2.3 ---------------------------------------------------------------------------------

def _spdx_id(kind: str, text: str) -> str:
    return f"SPDXRef-{kind}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def spdx(d: Described) -> bytes:
    info = d.info
    image_id, main_id, std_id = "SPDXRef-Image", "SPDXRef-Package-main", "SPDXRef-Package-stdlib"
    packages: list[dict[str, Any]] = [{
        "SPDXID": image_id, "name": d.name, "versionInfo": str(d.manifest.digest),
        "downloadLocation": "NOASSERTION", "primaryPackagePurpose": "CONTAINER",
        # Its files are listed (CONTAINS): SPDX then asks for the verification code over them.
        "filesAnalyzed": True, "packageVerificationCode": {"packageVerificationCodeValue": hashlib.sha1(
            "".join(sorted(f.sha1 for f in d.files)).encode(), usedforsecurity=False).hexdigest()},
        "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                          "referenceLocator": image_purl(d)}],
    }, _spdx_package(main_id, main_module(d), "APPLICATION",
                     "go build settings: " + "; ".join(f"{k}={v}" for k, v in _settings(info)))]
    packages.append({"SPDXID": std_id, "name": "stdlib", "versionInfo": info.go_version,
                     "downloadLocation": "https://go.dev/dl/", "filesAnalyzed": False,
                     "primaryPackagePurpose": "LIBRARY",
                     "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                                       "referenceLocator": stdlib_purl(info.go_version)}]})
    relationships = [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                      "relatedSpdxElement": image_id},
                     {"spdxElementId": image_id, "relationshipType": "CONTAINS", "relatedSpdxElement": main_id},
                     {"spdxElementId": main_id, "relationshipType": "DEPENDS_ON", "relatedSpdxElement": std_id}]
    for module in _modules(info):
        pid = _spdx_id("Package", f"{module.path}@{module.version}")
        packages.append(_spdx_package(pid, module, "LIBRARY"))
        relationships.append({"spdxElementId": main_id, "relationshipType": "DEPENDS_ON", "relatedSpdxElement": pid})
    files = []
    for f in d.files:
        fid = _spdx_id("File", f.path)
        files.append({"SPDXID": fid, "fileName": "." + f.path,  # SPDX: relative, as ./etc/passwd
                      "checksums": [{"algorithm": "SHA1", "checksumValue": f.sha1},
                                    {"algorithm": "SHA256", "checksumValue": f.sha256}]})
        relationships.append({"spdxElementId": image_id, "relationshipType": "CONTAINS", "relatedSpdxElement": fid})
        if f.path == d.entrypoint:
            relationships.append({"spdxElementId": fid, "relationshipType": "GENERATED_FROM",
                                  "relatedSpdxElement": main_id})
    doc = {
        "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"{d.name}@{d.manifest.digest}",
        "documentNamespace": NAMESPACE + d.manifest.digest.hex,
        "creationInfo": {"created": d.created, "creators": [f"Tool: leango-{version()}"]},
        "packages": packages, "files": files, "relationships": relationships,
    }
    return canonical_json(doc)


def _spdx_package(pid: str, module: Module, purpose: str, comment: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {
        "SPDXID": pid, "name": module.path, "versionInfo": module.version or "(devel)",
        "downloadLocation": "NOASSERTION", "filesAnalyzed": False, "primaryPackagePurpose": purpose,
        "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                          "referenceLocator": purl(module)}],
    }
    if h1_hex(module):
        out["checksums"] = [{"algorithm": "SHA256", "checksumValue": h1_hex(module)}]
    if comment:
        out["comment"] = comment
    return out


# -- CycloneDX 1.6 ----------------------------------------------------------------------------

def cyclonedx(d: Described) -> bytes:
    info = d.info
    main = main_module(d)
    main_ref = f"main:{main.path}"
    components: list[dict[str, Any]] = [{
        "type": "application", "bom-ref": main_ref, "name": main.path, "version": main.version or "(devel)",
        "purl": purl(main), "properties": [{"name": f"leango:go:build:{k}", "value": v} for k, v in _settings(info)],
        **({"hashes": [{"alg": "SHA-256", "content": h1_hex(main)}]} if h1_hex(main) else {}),
    }, {"type": "library", "bom-ref": "go:stdlib", "name": "stdlib", "version": info.go_version,
        "purl": stdlib_purl(info.go_version)}]
    dep_refs = ["go:stdlib"]
    for module in _modules(info):
        ref = f"go:{module.path}@{module.version}"
        dep_refs.append(ref)
        component: dict[str, Any] = {"type": "library", "bom-ref": ref, "name": module.path, "version": module.version,
                     "purl": purl(module)}
        if h1_hex(module):
            component["hashes"] = [{"alg": "SHA-256", "content": h1_hex(module)}]
        components.append(component)
    file_refs = []
    for f in d.files:
        ref = f"file:{f.path}"
        file_refs.append(ref)
        components.append({"type": "file", "bom-ref": ref, "name": f.path,
                           "hashes": [{"alg": "SHA-1", "content": f.sha1}, {"alg": "SHA-256", "content": f.sha256}]})
    doc = {
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, NAMESPACE + d.manifest.digest.hex)}",
        "metadata": {
            "timestamp": d.created,
            "tools": {"components": [{"type": "application", "name": "leango", "version": version()}]},
            "component": {"type": "container", "bom-ref": "image", "name": d.name,
                          "version": str(d.manifest.digest), "purl": image_purl(d)},
        },
        "components": components,
        "dependencies": [{"ref": "image", "dependsOn": [main_ref, *file_refs]},
                         {"ref": main_ref, "dependsOn": dep_refs}],
    }
    return canonical_json(doc)


# -- as referrers -----------------------------------------------------------------------------

def document(d: Described, fmt: str) -> bytes:
    return spdx(d) if fmt == "spdx" else cyclonedx(d)


def attachment(d: Described, fmt: str) -> Manifest:
    """The SBOM as an artifact whose subject is the image (found through the referrers API, the
    fallback tag, or a layout's index.json, by `oras discover` and cosign alike)."""
    data = document(d, fmt)
    layer = Blob(Descriptor(FORMATS[fmt], Digest.of_bytes(data), len(data), ((TITLE, FILE_NAMES[fmt]),)), data=data)
    subject = Descriptor(d.manifest.media_type, d.manifest.digest, d.manifest.size)
    return Manifest(FORMATS[fmt], (layer,), subject=subject,
                    annotations=(("org.opencontainers.image.created", d.created),))


def attachments(artifact: Any, formats: tuple[str, ...], name: str = "") -> list[Manifest]:
    """One SBOM per format for every image the artifact holds (each platform's)."""
    out: list[Manifest] = []
    for image in artifact.images():
        described = describe(image, name)
        out.extend(attachment(described, fmt) for fmt in formats)
    return out

