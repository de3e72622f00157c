"""Reading from a registry: a manifest by tag or digest, a blob into a file, verified.

What a pull must never do is trust the registry: a manifest fetched by digest is hashed
before it is used, a blob is hashed and counted while it streams and a mismatch is an error,
and no reply is read beyond the size the descriptor (or the manifest limit) allows.
Blob GETs may redirect to storage on another host (S3, a CDN); the redirect is followed
without the registry's Authorization header (the transport sends it to the registry only).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import BinaryIO

import requests
import urllib3

from .. import mediatypes
from ..descriptor import Descriptor
from ..digest import Digest
from ..errors import RegistryError
from .guard import check_redirect_target
from .httputil import read_capped, reason, redact
from .transport import Transport

# distribution spec: registries SHOULD accept manifests of at least 4 MiB; nothing larger is read.
MAX_MANIFEST = 4 << 20
REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5
READ_CHUNK = 1 << 20
MIN_RATE = 64 * 1024  # bytes per second a blob body must average, beyond the response deadline


@dataclass(frozen=True)
class FetchedManifest:
    raw: bytes
    media_type: str
    digest: Digest


class Puller:
    """Reads one repository through a Transport (which the caller closes)."""

    def __init__(self, transport: Transport, repository: str):
        self.t = transport
        self.repo = repository
        self.scopes = (f"repository:{repository}:pull",)

    def manifest(self, reference: str, accept: tuple[str, ...] = (mediatypes.OCI_MANIFEST, mediatypes.OCI_INDEX),
                 ) -> FetchedManifest:
        """GET a manifest by tag or digest; raises RegistryError (status 404 when there is none)."""
        url = self.t.url(f"/v2/{self.repo}/manifests/{reference}")
        resp = self.t.request("GET", url, scopes=self.scopes, expect=(200,), headers={"Accept": ", ".join(accept)})
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        raw = read_capped(resp, MAX_MANIFEST, self.t.options.read_timeout)
        digest = Digest.of_bytes(raw)
        if reference.startswith("sha256:") and str(digest) != reference:
            raise RegistryError(f"manifest {self.repo}@{reference} from {self.t.host} has digest {digest}: "
                                "the registry sent other content than was asked for", transient=False)
        if media_type not in accept:
            raise RegistryError(f"{self.repo}:{reference} on {self.t.host} is a {media_type or 'untyped reply'}, "
                                f"not one of {', '.join(accept)}", transient=False)
        return FetchedManifest(raw, media_type, digest)

    def blob(self, descriptor: Descriptor, out: BinaryIO) -> None:
        """Write the blob to out (from its start, on every attempt); verify size and digest."""
        def attempt(_n: int) -> None:
            out.seek(0)
            out.truncate()
            self._fetch_blob(descriptor, out)
        self.t.retry.run(attempt, f"GET blob {descriptor.digest}")
        out.flush()

    def _fetch_blob(self, descriptor: Descriptor, out: BinaryIO) -> None:
        url = self.t.url(f"/v2/{self.repo}/blobs/{descriptor.digest}")
        resp = self.t.request("GET", url, scopes=self.scopes, expect=(200, *REDIRECTS), retry=False)
        for _ in range(MAX_REDIRECTS):
            if resp.status_code not in REDIRECTS:
                break
            location = resp.headers.get("Location", "")
            resp.close()
            if not location:
                raise RegistryError(f"GET {redact(url)} redirected without a Location", transient=False)
            url = requests.compat.urljoin(url, location)
            # Every redirect target passes the guard token realms and upload locations pass (no
            # downgrade to http, no metadata or link-local address); the transport sends
            # Authorization only to the registry's own scheme, host and port, never to storage.
            check_redirect_target(self.t.base, url, "blob redirect", allow_http=self.t.insecure)
            resp = self.t.request("GET", url, scopes=self.scopes, expect=(200, *REDIRECTS), retry=False)
        else:
            resp.close()
            raise RegistryError(f"GET blob {descriptor.digest}: more than {MAX_REDIRECTS} redirects",
                                transient=False)
        try:
            _copy_verified(resp, descriptor, out, blob_deadline(descriptor.size, self.t.options.response_deadline))
        finally:
            resp.close()


def blob_deadline(size: int, response_deadline: float) -> float:
    """Seconds a blob's body may take: the response deadline manifests have, plus what the blob
    needs at MIN_RATE. A server trickling bytes cannot hold a build for as long as it likes."""
    return response_deadline + size / MIN_RATE


def _copy_verified(resp: requests.Response, descriptor: Descriptor, out: BinaryIO, deadline: float) -> None:
    if descriptor.digest.algorithm != "sha256":
        raise RegistryError(f"cannot verify a {descriptor.digest.algorithm} blob", transient=False)
    h, size, end = hashlib.sha256(), 0, time.monotonic() + deadline
    try:
        # read1: whatever has arrived, so a trickle is caught at the deadline, not at the end
        while chunk := resp.raw.read1(READ_CHUNK, decode_content=True):
            if time.monotonic() > end:
                raise RegistryError(f"blob {descriptor.digest} did not arrive within {deadline:.0f} s "
                                    f"({size} of {descriptor.size} bytes)")
            size += len(chunk)
            if size > descriptor.size:
                raise RegistryError(f"blob {descriptor.digest} is longer than its {descriptor.size} bytes",
                                    transient=False)
            h.update(chunk)
            out.write(chunk)
    except (OSError, ValueError, requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as exc:
        # A connection cut mid-body: worth another attempt from byte 0.
        raise RegistryError(f"reading blob {descriptor.digest} failed: {reason(exc)}") from exc
    if size != descriptor.size:
        raise RegistryError(f"blob {descriptor.digest} ended after {size} of {descriptor.size} bytes")
    if h.hexdigest() != descriptor.digest.hex:
        raise RegistryError(f"blob {descriptor.digest} from the registry has digest sha256:{h.hexdigest()}",
                            transient=False)
