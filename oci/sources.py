"""Sources, the mirror of Sinks: where an artifact is read from, named as skopeo names them.

`oci:DIR[:REF]` (an OCI layout), `oci-archive:FILE[:REF]` (a tar of one),
`docker-archive:FILE[:REF]` (what `docker save` writes; REF a tag or @N), `docker://REF` or a
bare reference (a registry). REF picks an entry of the layout's index.json by its
org.opencontainers.image.ref.name (a tag such as `v1` or a full name such as
`localhost:5000/app:v1`, both as leango and skopeo write them) or by digest; it may be left
out when the index has one entry. Every manifest read is checked against its descriptor and
every blob verified while it streams (parsed.py); nothing is read before it is asked for.
"""

from __future__ import annotations

import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from . import mediatypes
from .artifact import Artifact
from .canonical import canonical_json
from .descriptor import Descriptor, Platform
from .digest import Digest, copy_hashed
from .errors import ArchiveError, DigestMismatch, LayoutError, OciError, RegistryError
from .parsed import MAX_MANIFEST, ParsedImage, ParsedIndex, ParsedManifest, Source, load
from .reference import Reference, parse_reference
from .referrers import (
    Tagged,
    attachment_tags,
    fallback_tag,
    filtered,
    is_attachment_tag,
    parse_referrers,
    referrer_descriptor,
    subject_of,
)
from .sinks.layout import REF_NAME

if TYPE_CHECKING:
    from .registry.client import Registry
    from .registry.credentials import CredentialSources
    from .registry.transport import RegistryOptions

def _plain(descriptor: Descriptor) -> Descriptor:
    """The descriptor without the layout's own annotations (its ref name belongs to the layout)."""
    return Descriptor(descriptor.media_type, descriptor.digest, descriptor.size, (), descriptor.platform,
                      descriptor.artifact_type)


def _pick(entries: list[Descriptor], ref: str, where: str) -> Descriptor:
    if not entries:
        raise LayoutError(f"{where} holds no image")
    if not ref:
        if len({d.digest for d in entries}) != 1:
            names = sorted(filter(None, (d.annotation(REF_NAME) for d in entries)))
            raise LayoutError(f"{where} holds {len(entries)} entries: name one ({', '.join(names) or 'by digest'})")
        return _plain(entries[0])
    if ref.startswith("sha256:"):
        found = [d for d in entries if str(d.digest) == ref]
    else:
        found = [d for d in entries if d.annotation(REF_NAME) == ref]
    if not found:
        raise LayoutError(f"{where} has no entry named {ref}")
    return _plain(found[0])


class _IndexSource:
    """What a layout and an archive share: an index.json and blobs/ALG/HEX inside some tree."""
    where: str
    _manifests: dict[Digest, bytes]

    def _read(self, name: str, limit: int) -> bytes:
        raise NotImplementedError

    def open_blob(self, descriptor: Descriptor) -> BinaryIO:
        raise NotImplementedError

    def entries(self) -> list[Descriptor]:
        try:
            data = json.loads(self._read("index.json", MAX_MANIFEST))
            return [Descriptor.from_json(m) for m in data.get("manifests", [])]
        except (ValueError, AttributeError, TypeError, OciError) as exc:
            raise LayoutError(f"{self.where}: index.json is not a valid OCI index: {exc}") from exc

    def resolve(self, reference: str) -> Descriptor:
        entries = self.entries()
        if not reference and len({d.digest for d in entries}) > 1:
            # Referrers (an SBOM, a signature: untagged entries naming a subject), the lists
            # under fallback tags and cosign's tags are not what a layout without REF means.
            entries = [d for d in entries if not is_attachment_tag(d.annotation(REF_NAME) or "")
                       and (d.media_type not in mediatypes.ALL_MANIFEST_TYPES or subject_of(self._raw(d)) is None)]
        return _pick(entries, reference, self.where)

    def _raw(self, entry: Descriptor) -> bytes:
        """An index.json entry's manifest, checked against the entry and read once."""
        if not hasattr(self, "_manifests"):
            self._manifests = {}
        if entry.digest not in self._manifests:
            raw = self.manifest_bytes(entry)
            if Digest.of_bytes(raw) != entry.digest:
                raise DigestMismatch(f"manifest in {self.where}", str(entry.digest), str(Digest.of_bytes(raw)))
            self._manifests[entry.digest] = raw
        return self._manifests[entry.digest]

    def manifest_bytes(self, descriptor: Descriptor) -> bytes:
        return self._read(_blob_name(descriptor.digest), MAX_MANIFEST)

    def referrers(self, subject: Digest) -> list[Descriptor]:
        """Entries of index.json whose manifest names subject (oras-go's OCI store keeps
        referrers so), and the list under subject's fallback tag when one was copied in."""
        found: list[Descriptor] = []
        tag = fallback_tag(subject)
        for entry in self.entries():
            if entry.media_type not in mediatypes.ALL_MANIFEST_TYPES:
                continue
            raw = self._raw(entry)
            name = entry.annotation(REF_NAME) or ""
            if name == tag or name.endswith(f":{tag}"):
                found.extend(parse_referrers(raw, f"{self.where}:{tag}"))
            elif subject_of(raw) == subject:
                found.append(referrer_descriptor(raw, entry.media_type))
        return filtered(found)


def _blob_name(digest: Digest) -> str:
    return f"blobs/{digest.algorithm}/{digest.hex}"


def _what(name: str) -> str:
    """A blob by its digest (what the user can look for), any other file by its name."""
    parts = name.split("/")
    return f"blob {parts[1]}:{parts[2]}" if len(parts) == 3 and parts[0] == "blobs" else name


@dataclass
class LayoutSource(_IndexSource):
    root: Path

    def __post_init__(self) -> None:
        self.where = f"oci:{self.root}"
        if not (self.root / "oci-layout").is_file():
            raise LayoutError(f"{self.root} is not an OCI layout (no oci-layout file)")

    def _open(self, name: str) -> BinaryIO:
        try:
            return open(self.root / name, "rb")
        except FileNotFoundError:
            raise LayoutError(f"{self.where}: {_what(name)} is missing") from None
        except OSError as exc:
            raise LayoutError(f"{self.where}: cannot read {name}: {exc.strerror}") from exc

    def _read(self, name: str, limit: int) -> bytes:
        with self._open(name) as src:
            data = src.read(limit + 1)
        if len(data) > limit:
            raise LayoutError(f"{self.where}: {name} is larger than {limit} bytes")
        return data

    def open_blob(self, descriptor: Descriptor) -> BinaryIO:
        return self._open(_blob_name(descriptor.digest))

    def close(self) -> None:
        return None


class _Slice:
    """The next `size` bytes of a file handle, then end of file; closing it closes the handle."""

    def __init__(self, handle: BinaryIO, size: int):
        self.handle, self.left = handle, size

    def read(self, n: int = -1) -> bytes:
        want = self.left if n < 0 else min(n, self.left)
        data = self.handle.read(want) if want > 0 else b""
        self.left -= len(data)
        return data

    def close(self) -> None:
        self.handle.close()

    def __enter__(self) -> _Slice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Tar:
    """A tar's regular members, read in place (the tar is seekable), each read on a file handle
    of its own: blobs are read by parallel uploads, and tarfile's member readers share (and
    seek) the archive's one handle."""

    def __init__(self, path: Path, where: str):
        self.path, self.where = path, where
        try:
            with tarfile.open(path, "r:") as tar:  # only the members' places are kept
                self.members = {os.path.normpath(m.name): m for m in tar.getmembers() if m.isfile()}
        except (OSError, tarfile.TarError) as exc:
            raise ArchiveError(f"cannot read {path} as a tar archive: {exc}") from exc

    def open(self, name: str) -> BinaryIO:
        member = self.members.get(os.path.normpath(name))
        if member is None:
            raise ArchiveError(f"{self.where}: {_what(name)} is missing")
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 -- closed with the slice
        except OSError as exc:
            raise ArchiveError(f"cannot read {self.path}: {exc.strerror}") from exc
        handle.seek(member.offset_data)
        return _Slice(handle, member.size)  # type: ignore[return-value]

    def read(self, name: str, limit: int) -> bytes:
        member = self.members.get(os.path.normpath(name))
        if member is not None and member.size > limit:
            raise ArchiveError(f"{self.where}: {name} is larger than {limit} bytes")
        with self.open(name) as src:
            return src.read()


class ArchiveSource(_IndexSource):
    """An oci-archive: a tar holding a layout."""

    def __init__(self, path: Path):
        self.path, self.where = path, f"oci-archive:{path}"
        self._tar = _Tar(path, self.where)
        if "oci-layout" not in self._tar.members:
            raise ArchiveError(f"{path} is not an OCI archive (no oci-layout file)")

    def _read(self, name: str, limit: int) -> bytes:
        return self._tar.read(name, limit)

    def open_blob(self, descriptor: Descriptor) -> BinaryIO:
        return self._tar.open(_blob_name(descriptor.digest))

    def close(self) -> None:
        return None


class DockerArchiveSource:
    """A docker-archive (`docker save`, `podman save`, leango --tarball): manifest.json lists
    images by config and layer paths, with no manifest of their own. Reading one makes the OCI
    manifest for it (canonical JSON, layer media types from the bytes: gzip, zstd or plain tar),
    so an image leango wrote there reads back with its original digest; an index does not
    survive the format (each platform is an entry: pick it with :@N or its tag)."""

    def __init__(self, path: Path):
        self.path, self.where = path, f"docker-archive:{path}"
        self._tar = _Tar(path, self.where)
        if "manifest.json" not in self._tar.members:
            raise ArchiveError(f"{path} is not a docker-archive (no manifest.json)")
        try:
            entries = json.loads(self._tar.read("manifest.json", MAX_MANIFEST))
            self._entries = [(str(e["Config"]), [str(l) for l in e["Layers"]],
                              [str(t) for t in e.get("RepoTags") or []]) for e in entries]
        except (ValueError, KeyError, TypeError) as exc:
            raise ArchiveError(f"{self.where}: manifest.json is malformed: {exc}") from exc
        self._paths: dict[Digest, str] = {}  # blob digest → member
        self._manifests: dict[Digest, bytes] = {}

    def resolve(self, reference: str) -> Descriptor:
        if not self._entries:
            raise ArchiveError(f"{self.where} holds no image")
        if reference.startswith("@") and reference[1:].isdigit():
            n = int(reference[1:])
            if n >= len(self._entries):
                raise ArchiveError(f"{self.where} holds {len(self._entries)} images; there is no @{n}")
            entry = self._entries[n]
        elif reference:
            found = [e for e in self._entries if reference in e[2]]
            if not found:
                raise ArchiveError(f"{self.where} has no image tagged {reference}")
            entry = found[0]
        elif len(self._entries) == 1:
            entry = self._entries[0]
        else:
            raise ArchiveError(f"{self.where} holds {len(self._entries)} images: name one "
                               f"(@0…@{len(self._entries) - 1}, or a tag)")
        return self._manifest_for(*entry[:2])

    def _descriptor(self, name: str, media_type: str) -> Descriptor:
        """A member's descriptor: its digest from its bytes (the name is not trusted)."""
        with self._tar.open(name) as src:
            head = src.read(4)  # the compression's magic number
        with self._tar.open(name) as src:
            digest, size = copy_hashed(src, None)
        self._paths[digest] = name
        return Descriptor(media_type or _layer_type(head), digest, size)

    def _manifest_for(self, config_name: str, layer_names: list[str]) -> Descriptor:
        config = self._descriptor(config_name, mediatypes.OCI_CONFIG)
        layers = [self._descriptor(name, "") for name in layer_names]
        raw = canonical_json({"schemaVersion": 2, "mediaType": mediatypes.OCI_MANIFEST,
                              "config": config.to_json(), "layers": [l.to_json() for l in layers]})
        digest = Digest.of_bytes(raw)
        self._manifests[digest] = raw
        try:
            doc = json.loads(self._tar.read(config_name, MAX_MANIFEST))
            platform = Platform(doc["os"], doc["architecture"], doc.get("variant", ""))
        except (ValueError, KeyError, TypeError):
            platform = None
        return Descriptor(mediatypes.OCI_MANIFEST, digest, len(raw), platform=platform)

    def manifest_bytes(self, descriptor: Descriptor) -> bytes:
        if descriptor.digest not in self._manifests:
            raise ArchiveError(f"{self.where} has no manifest {descriptor.digest}")
        return self._manifests[descriptor.digest]

    def open_blob(self, descriptor: Descriptor) -> BinaryIO:
        if descriptor.digest not in self._paths:
            raise ArchiveError(f"{self.where}: blob {descriptor.digest} is missing")
        return self._tar.open(self._paths[descriptor.digest])

    def referrers(self, subject: Digest) -> list[Descriptor]:
        return []  # the format has no place for them

    def close(self) -> None:
        return None


def _layer_type(head: bytes) -> str:
    if head[:2] == b"\x1f\x8b":
        return mediatypes.OCI_LAYER_GZIP
    if head == b"\x28\xb5\x2f\xfd":
        return mediatypes.OCI_LAYER_ZSTD
    return mediatypes.OCI_LAYER_TAR


class RegistrySource:
    """A repository of a registry, read through the registry client (one transport per host)."""

    def __init__(self, reference: Reference, credentials: CredentialSources | None = None,
                 options: RegistryOptions | None = None, *, client: Registry | None = None):
        """Through client (the caller's, which it closes), or a client of this source's own."""
        # The registry client (and requests) loads only when a registry is read.
        from .registry.client import Registry
        self.reference, self.where = reference, str(reference)
        self._own = client is None
        self._client = client or Registry(credentials, options)
        self._repo = self._client.repository(reference.registry, reference.repository)
        self._fetched: dict[Digest, bytes] = {}

    def resolve(self, reference: str) -> Descriptor:
        fetched = self._repo.manifest(reference or "latest")
        self._fetched[fetched.digest] = fetched.raw
        return Descriptor(fetched.media_type, fetched.digest, len(fetched.raw))

    def manifest_bytes(self, descriptor: Descriptor) -> bytes:
        if descriptor.digest in self._fetched:
            return self._fetched[descriptor.digest]
        return self._repo.manifest(str(descriptor.digest)).raw

    def open_blob(self, descriptor: Descriptor) -> BinaryIO:
        return self._repo.open_blob(descriptor)

    def referrers(self, subject: Digest) -> list[Descriptor]:
        return self._repo.referrers(subject)

    def close(self) -> None:
        if self._own:
            self._client.close()


@dataclass(frozen=True)
class Location:
    """A SRC or DST argument: its transport, the path or reference, and the REF inside a file."""
    transport: str  # "oci", "oci-archive", "docker-archive", "docker"
    path: str
    ref: str = ""

    @property
    def reference(self) -> Reference:
        return parse_reference(self.path)

    def __str__(self) -> str:
        if self.transport == "docker":
            return f"docker://{self.path}"
        return f"{self.transport}:{self.path}" + (f":{self.ref}" if self.ref else "")


AnySource = LayoutSource | ArchiveSource | DockerArchiveSource | RegistrySource
TRANSPORTS = ("oci", "oci-archive", "docker-archive", "docker")


def parse_location(text: str) -> Location:
    """skopeo's transport names: oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:REF],
    docker://REF; a bare reference means a registry."""
    if text.startswith("docker://"):
        parse_reference(text[len("docker://"):])
        return Location("docker", text[len("docker://"):])
    transport, sep, rest = text.partition(":")
    if sep and transport in TRANSPORTS and transport != "docker":
        if not rest:
            raise OciError(f"{text}: {transport}: needs a path")
        # The path runs to the first ':', the REF is the rest (it may hold ':', as in
        # localhost:5000/app:v1): skopeo splits the same way, so a path cannot hold ':'.
        path, colon, ref = rest.partition(":")
        return Location(transport, path, ref if colon else "")
    try:
        parse_reference(text)
    except OciError as exc:
        raise OciError(f"{text} is neither a reference nor TRANSPORT:PATH (transports: oci:, oci-archive:, "
                       f"docker-archive:, docker://): {exc}") from exc
    return Location("docker", text)


def open_source(location: Location, credentials: CredentialSources | None = None,
                options: RegistryOptions | None = None) -> AnySource:
    if location.transport == "oci":
        return LayoutSource(Path(location.path))
    if location.transport == "oci-archive":
        return ArchiveSource(Path(location.path))
    if location.transport == "docker-archive":
        return DockerArchiveSource(Path(location.path))
    from .registry.credentials import CredentialSources
    return RegistrySource(location.reference, credentials or CredentialSources(), options)


def find_tag(source: Source, tag: str) -> Descriptor | None:
    """The manifest under tag in source (a registry's tag, a layout's entry of that name), None
    when there is none; sources without tags (a docker-archive) have none."""
    if isinstance(source, _IndexSource):
        found = [d for d in source.entries() if d.annotation(REF_NAME) == tag]
        return _plain(found[0]) if found else None
    if isinstance(source, RegistrySource):
        try:
            return source.resolve(tag)
        except RegistryError as exc:
            if exc.not_found:
                return None
            raise
    return None


Attached = ParsedImage | ParsedIndex | ParsedManifest | Tagged


def attached(source: Source, artifact: Artifact) -> list[Attached]:
    """Everything attached to artifact in source: the referrers of its root and of every manifest
    it holds, then theirs (a signature of an SBOM), each once, subjects before their referrers;
    then what cosign's tags hold for each of them (sha256-<hex>.sig, .att, .sbom) as Tagged.
    Each is parsed, so verified against its descriptor."""
    queue = [artifact.digest, *(b.digest for b in artifact.child_manifests())]
    seen, subjects = set(queue), list(queue)
    found: list[Attached] = []
    while queue:
        subject = queue.pop(0)
        for descriptor in source.referrers(subject):
            if descriptor.digest in seen:
                continue
            seen.add(descriptor.digest)
            referrer = load(source, descriptor, source.where)
            found.append(referrer)
            children = [referrer.digest, *(b.digest for b in referrer.child_manifests())]
            queue.extend(children)
            subjects.extend(children)
    for subject in subjects:
        for tag in attachment_tags(subject):
            entry = find_tag(source, tag)
            if entry is not None:
                found.append(Tagged(tag, load(source, entry, f"{source.where}:{tag}")))
    return found


def read_artifact(source: AnySource,
                  location: Location) -> ParsedImage | ParsedIndex | ParsedManifest:
    if location.transport == "docker":
        ref = str(location.reference.digest) if location.reference.digest else location.reference.tag
    else:
        ref = location.ref
    descriptor = source.resolve(ref)
    return load(source, descriptor, source.where)
