"""The Go build cache through a registry: --cache-to pushes it, --cache-from pulls it. This
module is the local side (the key, entries, chunks and the store of chunks last pulled or
pushed); cacheremote.py moves chunks to and from the registry.

A fleet of fresh CI runners shares nothing but the registry they push to; the build cache
of the last run (mostly the compiled standard library) turns the next runner's cold build
into an incremental one. The cache travels as an OCI artifact the way ORAS stores files:

  manifest  artifactType application/vnd.leango.go-build-cache.v1, the empty config,
            annotations naming the toolchain, the host and the target platforms (the key)
  layers    chunks of cache entries, each a deterministic tar compressed with zstd, named
            by org.opencontainers.image.title (`oras pull` writes them out as files)

Chunks are content-addressed, so a push uploads only chunks the registry lacks. Chunks that
came from the last pull or push are reused as they are while every file in them is still in
the local cache; only the entries this build added go into new chunks, cut at boundaries the
file names choose (content-defined, so adding a file changes one chunk). When reuse has left
too many small chunks, everything is repacked once.

Safety: a cache whose key does not match this build is ignored, never used; every chunk is
verified against its digest before it is opened; only names of the Go cache's own form
(`xx/<64 hex>-a|-d`, regular files) are extracted, never over an existing file. The trust
model (docs/cache.md): whoever can write the cache repository can change what the compiler
reuses, so the feature is off unless asked for, and pulls only the references the user names.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, cast

import zstandard

from ..oci import Reference
from ..oci.atomic import write_bytes_atomic
from ..oci.blob import Blob
from ..oci.descriptor import Descriptor
from ..oci.digest import Digest, HashingWriter
from ..oci.errors import OciError
from ..oci.tarfs import FILE, TarEntry, write_tar
from .locks import store_lock
from .toolprint import file_digest

if TYPE_CHECKING:
    from ..oci.registry.credentials import CredentialSources
    from ..oci.registry.transport import RegistryOptions

log = logging.getLogger(__name__)

ARTIFACT_TYPE = "application/vnd.leango.go-build-cache.v1"
CHUNK_TYPE = "application/vnd.leango.go-build-cache.chunk.v1.tar+zstd"
TITLE = "org.opencontainers.image.title"
KEY_GO = "dev.leango.cache.go-version"
KEY_HOST = "dev.leango.cache.host"
KEY_PLATFORMS = "dev.leango.cache.platforms"

ENTRY = re.compile(r"([0-9a-f]{2})/\1[0-9a-f]{62}-[ad]")  # go: <first byte of the hash>/<hash>-a|-d
BOUNDARY_ONE_IN = 64  # a chunk ends after a file whose name hashes to 0 mod this (~64 files a chunk)
MAX_CHUNK_BYTES = 64 << 20  # … or once it holds this much
MAX_CHUNK_FILES = 4096
MAX_CHUNKS = 48  # reuse that leaves more chunks than this repacks everything
MAX_ENTRY_BYTES = 1 << 30  # no single cache entry is larger (a compiled package archive)
# What one chunk may unpack to: pack cuts a chunk once it reaches MAX_CHUNK_BYTES, so the last
# entry may take it up to that plus one entry; tar headers are a few KiB per entry on top.
MAX_CHUNK_UNPACKED = MAX_CHUNK_BYTES + MAX_ENTRY_BYTES + (MAX_CHUNK_FILES + 256) * 4096
ZSTD_LEVEL = 3  # the cache is read back often and is not shipped to users: speed over size


class CacheError(OciError):
    """A cache chunk that is not what leango writes (bad name, type or size)."""


@dataclass(frozen=True)
class CacheKey:
    """What a build cache is good for: entries from another toolchain or host are never used."""
    go_version: str
    host: str  # os/arch the compiler runs on
    platforms: tuple[str, ...]  # targets compiled, sorted

    def annotations(self) -> tuple[tuple[str, str], ...]:
        return ((KEY_GO, self.go_version), (KEY_HOST, self.host), (KEY_PLATFORMS, ",".join(self.platforms)))

    def mismatch(self, annotations: dict[str, str]) -> str:
        """Why a cache with these annotations must not be used for this key ('' when it may)."""
        theirs_go, theirs_host = annotations.get(KEY_GO, ""), annotations.get(KEY_HOST, "")
        if theirs_go != self.go_version:
            return f"made by {theirs_go or 'an unknown toolchain'}, this build uses {self.go_version}"
        if theirs_host != self.host:
            return f"made on {theirs_host or 'an unknown host'}, this build runs on {self.host}"
        theirs = set(filter(None, annotations.get(KEY_PLATFORMS, "").split(",")))
        missing = [p for p in self.platforms if p not in theirs]
        if missing:
            return f"made for {', '.join(sorted(theirs)) or 'no platform'}, not for {', '.join(missing)}"
        return ""


@dataclass(frozen=True)
class RemoteCache:
    """--cache-from / --cache-to and how to reach their registries."""
    cache_from: tuple[Reference, ...] = ()
    cache_to: Reference | None = None
    credentials: CredentialSources | None = None
    registry: RegistryOptions | None = None

    def __post_init__(self) -> None:
        if self.cache_to is not None and not self.cache_to.tag:
            raise OciError(f"--cache-to {self.cache_to} names content by digest; give a tag to push the cache to")


# -- the local side: entries, chunks, the store of chunks last pulled or pushed ----------------

def entries(build_cache: Path) -> dict[str, str]:
    """Every cache entry in build_cache: name → identity (its name and its content's hash). An
    output (-d) is named after its content's hash by the go command, but a pulled one kept beside
    a local one of that name may differ: only its bytes tell."""
    found: dict[str, str] = {}
    if not build_cache.is_dir():
        return found
    for sub in sorted(os.listdir(build_cache)):
        if len(sub) != 2:
            continue
        for name in sorted(os.listdir(build_cache / sub)):
            rel = f"{sub}/{name}"
            path = build_cache / rel
            if not ENTRY.fullmatch(rel) or path.is_symlink() or not path.is_file():
                continue
            found[rel] = _identity(rel, file_digest(path))
    return found


def _identity(name: str, sha256_hex: str) -> str:
    """How a chunk's index names an entry: with its content's hash."""
    return f"{name}@{sha256_hex[:16]}"


def boundaries(names: list[str]) -> Iterator[list[str]]:
    """Cut sorted names into chunks where a name's hash says so (or a chunk gets large)."""
    chunk: list[str] = []
    for name in names:
        chunk.append(name)
        cut = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4]) % BOUNDARY_ONE_IN == 0
        if cut or len(chunk) >= MAX_CHUNK_FILES:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class Store:
    """Chunk blobs of the last pull and push (cache_dir/gocache): digest → file identities."""
    root: Path
    chunks: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    @contextlib.contextmanager
    def locked(cls, root: Path) -> Iterator[Store]:
        """The store, read under an exclusive lock on root/.lock held until the block ends: two
        leango processes sharing a --cache-dir take turns, so that neither deletes chunks the
        other has written and is about to push or unpack."""
        with store_lock(root):
            yield cls.open(root)

    @classmethod
    def open(cls, root: Path) -> Store:
        try:
            data = json.loads((root / "index.json").read_text())
            chunks = {d: list(v) for d, v in data.get("chunks", {}).items() if isinstance(v, list)}
        except (OSError, ValueError, AttributeError):
            chunks = {}
        return cls(root, chunks)

    def blob_path(self, digest: str) -> Path:
        return self.root / "blobs" / digest.replace(":", "-")

    def save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        live = {self.blob_path(d).name for d in self.chunks}
        blobs = self.root / "blobs"
        for path in blobs.iterdir() if blobs.is_dir() else ():
            if path.name not in live:
                path.unlink(missing_ok=True)
        write_bytes_atomic(self.root / "index.json", json.dumps({"chunks": self.chunks}, sort_keys=True).encode())


def _opener(path: Path) -> Callable[[], BinaryIO]:
    return lambda: open(path, "rb")  # the tar writer closes it


def _write_chunk(build_cache: Path, names: list[str], store: Store) -> str:
    """Pack names into a tar.zst in the store; returns its digest."""
    (store.root / "blobs").mkdir(parents=True, exist_ok=True)
    tar_entries = [TarEntry(n, FILE, 0o644, (build_cache / n).stat().st_size, _opener(build_cache / n))
                   for n in names]
    fd, tmp = tempfile.mkstemp(dir=store.root / "blobs", prefix=".chunk-")
    try:
        with os.fdopen(fd, "wb") as raw:
            hashing = HashingWriter(raw)
            cctx = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=1)
            with cctx.stream_writer(cast(BinaryIO, hashing), closefd=False) as z:
                write_tar(cast(BinaryIO, z), tar_entries)
        digest = str(hashing.digest)
        os.replace(tmp, store.blob_path(digest))
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest


def pack(build_cache: Path, store: Store) -> list[Blob]:
    """The chunks that hold build_cache now: reused where they still match, new for the rest."""
    present = entries(build_cache)
    by_identity = {ident: name for name, ident in present.items()}
    reused: dict[str, list[str]] = {}
    claimed: set[str] = set()
    for digest in sorted(store.chunks):
        idents = store.chunks[digest]
        if idents and all(i in by_identity and i not in claimed for i in idents) \
                and store.blob_path(digest).is_file():
            reused[digest] = idents
            claimed.update(idents)
    rest = sorted(by_identity[i] for i in by_identity if i not in claimed)
    new_chunks = _cut(build_cache, rest)
    if len(reused) + len(new_chunks) > MAX_CHUNKS:
        reused, new_chunks = {}, _cut(build_cache, sorted(present))
    chunks: dict[str, list[str]] = dict(reused)
    for names in new_chunks:
        digest = _write_chunk(build_cache, names, store)
        chunks[digest] = [present[n] for n in names]
    store.chunks = chunks
    store.save()
    return sorted((_chunk_blob(store, d, idents) for d, idents in chunks.items()),
                  key=lambda b: dict(b.descriptor.annotations)[TITLE])


def _cut(build_cache: Path, names: list[str]) -> list[list[str]]:
    out: list[list[str]] = []
    for chunk in boundaries(names):
        part: list[str] = []
        size = 0
        for name in chunk:
            part.append(name)
            size += (build_cache / name).stat().st_size
            if size >= MAX_CHUNK_BYTES:
                out.append(part)
                part, size = [], 0
        if part:
            out.append(part)
    return out


def _chunk_blob(store: Store, digest: str, idents: list[str]) -> Blob:
    path = store.blob_path(digest)
    first = min(idents).split("@")[0].replace("/", "")
    title = f"go-build-{first[:16]}.tar.zst"
    return Blob(Descriptor(CHUNK_TYPE, Digest.parse(digest), path.stat().st_size, ((TITLE, title),)), path=path)


class Unpacked(NamedTuple):
    idents: list[str]  # every file of the chunk
    added: int  # files written (those not already in the cache)


class _Bounded:
    """A read-only stream that refuses to give more than `limit` bytes in all (a tar's headers
    included: tarfile holds a pax header whole in memory, so its size is bounded here)."""

    def __init__(self, inner: Any, limit: int):
        self.inner, self.left = inner, limit

    def read(self, n: int = -1) -> bytes:
        want = self.left + 1 if n < 0 else min(n, self.left + 1)
        data = self.inner.read(want)
        self.left -= len(data)
        if self.left < 0:
            raise CacheError(f"a cache chunk unpacks to more than {MAX_CHUNK_UNPACKED} bytes")
        return bytes(data)


def unpack(blob: BinaryIO, build_cache: Path) -> Unpacked:
    """Extract one verified chunk into build_cache, whole or not at all.

    Bounded as pack writes chunks: at most MAX_CHUNK_FILES entries, MAX_ENTRY_BYTES each,
    MAX_CHUNK_UNPACKED in all (headers included). Entries go to a staging directory first and
    move into the cache only when the whole chunk passed; existing entries are kept (Go writes an
    entry once, under a name derived from content or action); anything that is not a Go cache
    entry, and a disk that fills up, refuses the whole chunk."""
    build_cache.mkdir(parents=True, exist_ok=True)
    try:
        staging = Path(tempfile.mkdtemp(dir=build_cache, prefix=".pull-"))
    except OSError as exc:
        raise CacheError(f"cannot unpack a cache chunk: {exc.strerror}") from exc
    try:
        staged = _stage(blob, staging)
        added = 0
        for name in staged:
            dest = build_cache / name
            if not dest.exists():  # keep what this machine has
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / name, dest)
                added += 1
        return Unpacked(list(staged.values()), added)
    except OSError as exc:  # ENOSPC, EDQUOT…: the cache is skipped, the build goes on
        raise CacheError(f"cannot unpack a cache chunk: {exc.strerror or exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _stage(blob: BinaryIO, staging: Path) -> dict[str, str]:
    """Every entry of the chunk written under staging: name → identity (name and content digest)."""
    staged: dict[str, str] = {}
    members = 0
    reader = _Bounded(zstandard.ZstdDecompressor().stream_reader(blob, closefd=False), MAX_CHUNK_UNPACKED)
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
            for member in tar:
                members += 1
                if members > MAX_CHUNK_FILES + 256:  # the entries and their 256 two-hex directories
                    raise CacheError(f"a cache chunk holds more than {MAX_CHUNK_FILES} entries")
                name = member.name.rstrip("/")
                if member.isdir() and re.fullmatch(r"[0-9a-f]{2}", name):
                    continue
                if not member.isreg() or not ENTRY.fullmatch(name):
                    raise CacheError(f"a cache chunk holds {member.name!r}, which is not a Go build cache entry")
                if member.size > MAX_ENTRY_BYTES:
                    raise CacheError(f"a cache chunk entry {name} claims {member.size} bytes")
                src = tar.extractfile(member)
                assert src is not None  # a regular file
                (staging / name).parent.mkdir(exist_ok=True)
                staged[name] = _extract_one(cast(BinaryIO, src), staging / name, name)
    except (tarfile.TarError, zstandard.ZstdError, EOFError) as exc:
        raise CacheError(f"a cache chunk is not a zstd-compressed tar: {exc}") from exc
    return staged


def _extract_one(src: BinaryIO, path: Path, name: str) -> str:
    """Write the entry to path; its identity."""
    h = hashlib.sha256()
    with open(path, "xb") as out:
        while chunk := src.read(1 << 20):
            h.update(chunk)
            out.write(chunk)
    os.chmod(path, 0o644)
    return _identity(name, h.hexdigest())
