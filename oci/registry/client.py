"""The registry client: one object every command reads and writes registries through.

In the manner of oras-go's `remote.Repository` and go-containerregistry's `remote` options:
`Registry` is built once from where credentials are found and the RegistryOptions, keeps one
Transport (connection pool, token cache) per host and credential, and is closed once.
`Repository` is one repository of it: push, manifests and blobs read verified, tags (paged by
`Link`), blob existence and mount, and referrers (the OCI 1.1 API, or the fallback tag
`sha256-<hex>` where the registry has none, probed once per repository and remembered).
Nothing else in leango builds a Transport.
"""

from __future__ import annotations

import json
import logging
import random
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import BinaryIO

import requests

from .. import mediatypes
from ..artifact import Artifact
from ..blob import Blob
from ..descriptor import Descriptor
from ..digest import Digest
from ..errors import RegistryError
from ..referrers import fallback_tag, filtered, parse_referrers, referrer_descriptor, referrers_index, subject_of
from .credentials import Credential, CredentialSources, resolve
from .guard import check_redirect_target
from .httputil import read_capped, redact
from .pull import MAX_MANIFEST, FetchedManifest, Puller
from .push import Pusher, PushReport
from .transport import RegistryOptions, Transport
from .upload import BlobUploader, Progress

log = logging.getLogger(__name__)
MAX_PAGES = 10_000  # a registry whose Link never ends is not followed for ever
FALLBACK_ATTEMPTS = 6  # writes of the fallback tag before giving up on a registry others keep rewriting
FALLBACK_SETTLE = 0.15  # seconds (up to twice that) before a write is checked: another client's
# read-modify-write of the same tag lands within it


def registry_host(registry: str) -> str:
    """Docker Hub's API lives at registry-1.docker.io."""
    return "registry-1.docker.io" if registry == "docker.io" else registry


class Registry:
    """Every registry a command talks to. Use as a context manager, or close() once."""

    def __init__(self, credentials: CredentialSources | None = None, options: RegistryOptions | None = None):
        self.credentials = credentials or CredentialSources()
        self.options = options or RegistryOptions()
        self._transports: dict[tuple[str, Credential], Transport] = {}
        self._repositories: dict[tuple[str, str], Repository] = {}
        self._lock = threading.Lock()

    def transport(self, registry: str, credential: Credential) -> Transport:
        """The one transport of host and credential (auth.json may hold different credentials
        for different namespaces of one registry, so the credential is part of the key)."""
        key = (registry_host(registry), credential)
        with self._lock:
            if key not in self._transports:
                self._transports[key] = Transport(key[0], credential, self.options)
            return self._transports[key]

    def repository(self, registry: str, name: str) -> Repository:
        with self._lock:
            found = self._repositories.get((registry, name))
        if found is None:
            cred = resolve(self.credentials, registry, name)
            found = Repository(self.transport(registry, cred), registry, name)
            with self._lock:
                found = self._repositories.setdefault((registry, name), found)
        return found

    def check_login(self, registry: str, credential: Credential) -> None:
        """Raise RegistryError unless the registry accepts credential (GET /v2/)."""
        t = self.transport(registry, credential)
        t.request("GET", t.url("/v2/"), scopes=(), expect=(200,)).close()

    def close(self) -> None:
        with self._lock:
            transports, self._transports = list(self._transports.values()), {}
            self._repositories = {}
        for t in transports:
            t.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Repository:
    """One repository of a registry, through its host's shared transport."""

    def __init__(self, transport: Transport, registry: str, name: str):
        self.t, self.registry, self.name = transport, registry, name
        self._puller = Puller(transport, name)
        self._referrers_api: bool | None = None  # probed once, then remembered
        self._fallback_lock = threading.Lock()

    def __str__(self) -> str:
        return f"{self.registry}/{self.name}"

    # -- reading -----------------------------------------------------------------------------
    def manifest(self, reference: str, accept: tuple[str, ...] = mediatypes.ALL_MANIFEST_TYPES) -> FetchedManifest:
        """A manifest or index by tag or digest, checked against the digest asked for."""
        return self._puller.manifest(reference, accept)

    def blob(self, descriptor: Descriptor, out: BinaryIO) -> None:
        """The blob written to out, verified while it streams (retried from byte 0)."""
        self._puller.blob(descriptor, out)

    def open_blob(self, descriptor: Descriptor) -> BinaryIO:
        """The blob, verified, in a temporary file read from byte 0; the caller closes it."""
        spool = tempfile.TemporaryFile()  # noqa: SIM115 -- returned open
        try:
            self.blob(descriptor, spool)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool

    def exists(self, descriptor: Descriptor) -> bool:
        return self._uploader().exists(Blob(descriptor, data=b""))

    def tags(self, page_size: int = 0) -> list[str]:
        """Every tag, following the registry's Link pages (page_size > 0 asks for pages of that
        many); malformed entries are left out. A registry that honours ?n= but sends no Link
        (go-containerregistry's) is asked for the next page with ?last=, as the distribution spec
        lets a client do."""
        found: dict[str, None] = {}
        query = {"n": str(page_size)} if page_size > 0 else {}
        url = self.t.url(f"/v2/{self.name}/tags/list", **query)
        for _ in range(MAX_PAGES):
            known, page = len(found), []
            for raw in self._pages(url, accept="application/json"):
                page = self._tag_page(raw)
                found.update(dict.fromkeys(page))
            if page_size <= 0 or len(page) != page_size or len(found) == known:
                return list(found)
            url = self.t.url(f"/v2/{self.name}/tags/list", n=str(page_size), last=page[-1])
        raise RegistryError(f"{self}: more than {MAX_PAGES} pages", transient=False)

    def _tag_page(self, raw: bytes) -> list[str]:
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise RegistryError(f"{self}: the tag list is not JSON: {exc}", transient=False) from exc
        tags = doc.get("tags") if isinstance(doc, dict) else None
        return [t for t in tags or () if isinstance(t, str) and t]

    def referrers(self, subject: Digest, artifact_type: str = "") -> list[Descriptor]:
        """What names subject as its subject: from the referrers API when the registry has it,
        else from the fallback tag; an empty list when there is nothing."""
        if self.referrers_api(subject):
            query = {"artifactType": artifact_type} if artifact_type else {}
            url = self.t.url(f"/v2/{self.name}/referrers/{subject}", **query)
            found: list[Descriptor] = []
            for page in self._pages(url, accept=mediatypes.OCI_INDEX):
                found.extend(parse_referrers(page, f"{self}@{subject}"))
            # go-containerregistry's pkg/registry (v0.22) lists the config's media type, not the
            # manifest's artifactType: an entry saying "empty config" is read to learn its type.
            found = [self._typed(d) if d.artifact_type in ("", mediatypes.OCI_EMPTY) else d for d in found]
            return filtered(found, artifact_type)  # a registry may ignore the artifactType filter
        return filtered(self._fallback_entries(fallback_tag(subject)), artifact_type)

    def _typed(self, listed: Descriptor) -> Descriptor:
        fetched = self.manifest(str(listed.digest))
        return referrer_descriptor(fetched.raw, fetched.media_type)

    def referrers_api(self, probe: Digest) -> bool:
        """Whether the registry serves the referrers API for this repository (asked once).
        A registry without it answers 404 (distribution spec: a registry that has it does not)."""
        if self._referrers_api is None:
            url = self.t.url(f"/v2/{self.name}/referrers/{probe}")
            resp = self.t.request("GET", url, scopes=(f"repository:{self.name}:pull",), expect=(200, 404),
                                  headers={"Accept": mediatypes.OCI_INDEX})
            media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
            resp.close()
            self._referrers_api = resp.status_code == 200 and media_type == mediatypes.OCI_INDEX
            log.debug("%s: referrers API %s", self, "present" if self._referrers_api else "absent")
        return self._referrers_api

    def _pages(self, url: str, *, accept: str) -> Iterator[bytes]:
        """Each page's body: the first URL, then every Link rel="next" (same registry only)."""
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            seen.add(url)
            resp = self.t.request("GET", url, scopes=(f"repository:{self.name}:pull",), expect=(200,),
                                  headers={"Accept": accept})
            try:
                raw = read_capped(resp, MAX_MANIFEST, self.t.options.read_timeout)
                following = resp.links.get("next", {}).get("url", "")
            finally:
                resp.close()
            yield raw
            if not following:
                return
            url = requests.compat.urljoin(url, following)
            check_redirect_target(self.t.base, url, "Link header", allow_http=self.t.insecure)
            if url in seen:
                raise RegistryError(f"{self}: the registry's Link pages loop back to {redact(url)}",
                                    transient=False)
        raise RegistryError(f"{self}: more than {MAX_PAGES} pages", transient=False)

    # -- writing -----------------------------------------------------------------------------
    def push(self, artifact: Artifact, tags: tuple[str, ...] = (), *, mount_from: tuple[str, ...] = (),
             progress: Progress | None = None) -> PushReport:
        """Blobs, child manifests, then the root under each tag (or by digest alone). A root
        with a subject is then listed for it: by the registry itself when it has the referrers
        API, else in the fallback tag's index, as the distribution spec asks of clients."""
        pusher = Pusher(self.t, self.name, mount_from=mount_from, progress=progress)
        report = pusher.push(artifact, tags)
        subject = subject_of(artifact.raw)
        if subject is not None and not (pusher.indexed_by_registry or self.referrers_api(subject)):
            self._add_to_fallback(subject, referrer_descriptor(artifact.raw, artifact.media_type), pusher)
        return report

    def mount(self, descriptor: Descriptor, source_repository: str) -> bool:
        """Mount a blob from another repository of the registry; False when it was refused."""
        return self._uploader().mount(Blob(descriptor, data=b""), source_repository)

    def _uploader(self) -> BlobUploader:
        return BlobUploader(self.t, self.name, cancel=threading.Event())

    def _add_to_fallback(self, subject: Digest, entry: Descriptor, pusher: Pusher) -> None:
        """Read-modify-write the fallback tag's index, then check it held: a registry offers no
        conditional write, so a client that read the index before this write and writes after
        it drops this entry. After each write the index is read again, once another client's
        read-modify-write has had time to land, and the entry written again (with whatever the
        other added) until it stays; one writer per repository in this process."""
        tag = fallback_tag(subject)
        with self._fallback_lock:
            wrote = False
            for _ in range(FALLBACK_ATTEMPTS):
                existing = self._fallback_entries(tag)
                if entry.digest in {d.digest for d in existing}:
                    return
                if wrote:
                    log.info("%s: another client rewrote the fallback tag %s; listing %s again", self, tag,
                             entry.digest)
                raw = referrers_index([*existing, entry])
                pusher.put_manifest(Blob(Descriptor(mediatypes.OCI_INDEX, Digest.of_bytes(raw), len(raw)), data=raw),
                                    tag)
                log.debug("%s: %s listed under the fallback tag %s", self, entry.digest, tag)
                wrote = True
                time.sleep(FALLBACK_SETTLE * (1 + random.random()))
            raise RegistryError(f"{self}: {entry.digest} did not stay listed under the fallback tag {tag} after "
                                f"{FALLBACK_ATTEMPTS} writes: other clients keep rewriting it", transient=False)

    def _fallback_entries(self, tag: str) -> list[Descriptor]:
        """What the fallback tag lists; nothing when the tag is not there."""
        try:
            return parse_referrers(self.manifest(tag, accept=(mediatypes.OCI_INDEX,)).raw, f"{self}:{tag}")
        except RegistryError as exc:
            if not exc.not_found:
                raise
            return []
