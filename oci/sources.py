"""Sources, the mirror of Sinks: where an artifact is read from, named as skopeo names them.

`oci:DIR[:REF]` (an OCI layout), `oci-archive:FILE[:REF]` (a tar of one), `docker://REF` or a
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
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from . import mediatypes
from .descriptor import Descriptor
from .digest import Digest
from .errors import ArchiveError, LayoutError, OciError
from .parsed import MAX_MANIFEST, ParsedImage, ParsedIndex, ParsedManifest, load
from .reference import Reference, parse_reference
from .sinks.layout import REF_NAME

if TYPE_CHECKING:
    from .registry.credentials import CredentialSources
    from .registry.transport import RegistryOptions

ALL_MANIFEST_TYPES = (*sorted(mediatypes.MANIFEST_TYPES), *sorted(mediatypes.INDEX_TYPES))


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
        return _pick(self.entries(), reference, self.where)

    def manifest_bytes(self, descriptor: Descriptor) -> bytes:
        return self._read(_blob_name(descriptor.digest), MAX_MANIFEST)


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


class ArchiveSource(_IndexSource):
    """An oci-archive: a tar holding a layout. Members are read in place (the tar is seekable)."""

    def __init__(self, path: Path):
        self.path, self.where = path, f"oci-archive:{path}"
        try:
            self._tar = tarfile.open(path, "r:")  # noqa: SIM115 -- open for the source's lifetime (close())
        except (OSError, tarfile.TarError) as exc:
            raise ArchiveError(f"cannot read {path} as a tar archive: {exc}") from exc
        with self._tar:  # only the members' places are kept: each read opens the file anew
            self._members = {os.path.normpath(m.name): m for m in self._tar.getmembers() if m.isfile()}
        if "oci-layout" not in self._members:
            raise ArchiveError(f"{path} is not an OCI archive (no oci-layout file)")

    def _member(self, name: str) -> BinaryIO:
        """A reader of one member's bytes, on a file handle of its own: blobs are read by parallel
        uploads, and tarfile's member readers share (and seek) the archive's one handle."""
        member = self._members.get(name)
        if member is None:
            raise ArchiveError(f"{self.where}: {_what(name)} is missing")
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 -- closed with the slice
        except OSError as exc:
            raise ArchiveError(f"cannot read {self.path}: {exc.strerror}") from exc
        handle.seek(member.offset_data)
        return _Slice(handle, member.size)  # type: ignore[return-value]

    def _read(self, name: str, limit: int) -> bytes:
        if self._members.get(name) is not None and self._members[name].size > limit:
            raise ArchiveError(f"{self.where}: {name} is larger than {limit} bytes")
        with self._member(name) as src:
            return src.read()

    def open_blob(self, descriptor: Descriptor) -> BinaryIO:
        return self._member(_blob_name(descriptor.digest))

    def close(self) -> None:
        return None


class RegistrySource:
    """A repository of a registry, read through the one transport per host and credential."""

    def __init__(self, reference: Reference, credentials: CredentialSources, options: RegistryOptions | None = None):
        # The registry client (and requests) loads only when a registry is read.
        from .registry.credentials import resolve
        from .registry.pull import Puller
        from .registry.transport import Transport
        from .sinks.registry import registry_host
        self.reference, self.where = reference, str(reference)
        cred = resolve(credentials, reference.registry, reference.repository)
        self._transport = Transport(registry_host(reference.registry), cred, options)
        self._puller = Puller(self._transport, reference.repository)
        self._fetched: dict[Digest, bytes] = {}

    def resolve(self, reference: str) -> Descriptor:
        fetched = self._puller.manifest(reference or "latest", accept=ALL_MANIFEST_TYPES)
        self._fetched[fetched.digest] = fetched.raw
        return Descriptor(fetched.media_type, fetched.digest, len(fetched.raw))

    def manifest_bytes(self, descriptor: Descriptor) -> bytes:
        if descriptor.digest in self._fetched:
            return self._fetched[descriptor.digest]
        return self._puller.manifest(str(descriptor.digest), accept=ALL_MANIFEST_TYPES).raw

    def open_blob(self, descriptor: Descriptor) -> BinaryIO:
        spool = tempfile.TemporaryFile()  # noqa: SIM115 -- verified while fetched; the caller closes it
        try:
            self._puller.blob(descriptor, spool)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool

    def close(self) -> None:
        self._transport.close()


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
                options: RegistryOptions | None = None) -> LayoutSource | ArchiveSource | RegistrySource:
    if location.transport == "oci":
        return LayoutSource(Path(location.path))
    if location.transport == "oci-archive":
        return ArchiveSource(Path(location.path))
    if location.transport == "docker":
        from .registry.credentials import CredentialSources
        return RegistrySource(location.reference, credentials or CredentialSources(), options)
    raise OciError(f"{location.transport}: cannot be read yet: copy from oci:, oci-archive: or a registry")


def read_artifact(source: LayoutSource | ArchiveSource | RegistrySource,
                  location: Location) -> ParsedImage | ParsedIndex | ParsedManifest:
    if location.transport == "docker":
        ref = str(location.reference.digest) if location.reference.digest else location.reference.tag
    else:
        ref = location.ref
    descriptor = source.resolve(ref)
    return load(source, descriptor, source.where)
