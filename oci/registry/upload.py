"""Blob upload (distribution spec "Pushing blobs"): HEAD, mount, POST → PUT or PATCH…PUT.

Each attempt starts a fresh upload session and sends the blob from byte 0;
a session we abandon is DELETEd (and a failure to delete ignored). A blob is
only reported pushed after a HEAD shows the registry holds it at the right size.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import quote, urljoin, urlsplit

import requests

from ..blob import Blob
from ..errors import DENIED, NAME_UNKNOWN, RegistryError
from .guard import check_redirect_target
from .httputil import printable, redact
from .transport import Body, Cancelled, Transport

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]  # (digest, bytes sent, total)


class BodyReader:
    """A blob reader that reports progress and stops when the push is cancelled."""

    def __init__(self, src: BinaryIO, length: int, digest: str, progress: Progress | None,
                 cancel: threading.Event, start: int = 0, total: int = 0):
        self.src, self.remaining, self.digest = src, length, digest
        self.total = total or start + length
        self.progress, self.cancel, self.sent = progress, cancel, start

    def read(self, n: int = -1) -> bytes:
        if self.cancel.is_set():
            raise Cancelled("upload cancelled")
        n = self.remaining if n is None or n < 0 else min(n, self.remaining)
        data = self.src.read(n) if n else b""
        self.remaining -= len(data)
        self.sent += len(data)
        if self.progress and data:
            self.progress(self.digest, self.sent, self.total)
        return data

    def __len__(self) -> int:
        return self.remaining

    def close(self) -> None:
        self.src.close()


@dataclass
class BlobOutcome:
    digest: str
    size: int
    action: str  # "exists", "mounted" or "uploaded"


def explained_refusal(host: str, repository: str, exc: RegistryError) -> RegistryError:
    """A write refused for what the registry's message rarely says, as what it means: NAME_UNKNOWN,
    a registry that does not create repositories on push (Amazon ECR's documented behaviour);
    403 or DENIED, an account that may not push there (Docker Hub says so only once an upload
    starts: its token endpoint grants what was asked). Other errors as they are."""
    if exc.has_code(NAME_UNKNOWN):
        said = (f"{host}/{repository} does not exist, and the registry does not create repositories "
                "on push (as Amazon ECR): create the repository first, then push again")
    elif exc.status == 403 or exc.has_code(DENIED):
        detail = next((str(e) for e in exc.errors if e.code == DENIED),
                      str(exc.errors[0]) if exc.errors else f"HTTP {exc.status}")
        said = (f"the registry denied pushing to {host}/{repository} ({detail}): check the repository "
                "name, and that the account logged in to the registry may push there")
    else:
        return exc
    return RegistryError(said, status=exc.status, code=exc.code, errors=exc.errors, attempts=exc.attempts,
                         transient=False)


@contextmanager
def write_refusal_explained(host: str, repository: str) -> Iterator[None]:
    """explained_refusal for the errors of a write."""
    try:
        yield
    except RegistryError as exc:
        explained = explained_refusal(host, repository, exc)
        if explained is exc:
            raise
        raise explained from exc


MOUNT_REFUSALS = frozenset({400, 401, 403, 404, 405})  # a mount answered so falls back to an upload
FALLBACK_CHUNK = 5 * 1024 * 1024  # bytes per PATCH when a registry refuses monolithic uploads


def skip(src: BinaryIO, offset: int) -> None:
    """src moved to offset: seeked when it can be (a file), else read past (a stream being
    verified as it is read, from another registry or an archive)."""
    seekable = getattr(src, "seekable", None)
    if seekable is not None and seekable():
        src.seek(offset)
        return
    left = offset
    while left > 0:
        got = src.read(min(left, 1 << 20))
        if not got:
            raise RegistryError(f"the blob ended {left} bytes before offset {offset}", transient=False)
        left -= len(got)


def with_digest(location: str, digest: str) -> str:
    """Append digest= to an upload URL, keeping its query (e.g. _state) as it is."""
    sep = "&" if urlsplit(location).query else "?"
    return f"{location}{sep}digest={quote(digest, safe='')}"


class BlobUploader:
    def __init__(self, transport: Transport, repository: str, *, cancel: threading.Event,
                 progress: Progress | None = None, chunk_size: int = 0):
        self.t, self.repo, self.cancel = transport, repository, cancel
        self.progress, self.chunk_size = progress, chunk_size
        self.scopes = (f"repository:{repository}:pull,push",)
        self.min_chunk = 0
        self._open: set[str] = set()  # upload sessions started and not yet finished
        self._open_lock = threading.Lock()

    def exists(self, blob: Blob) -> bool:
        url = self.t.url(f"/v2/{self.repo}/blobs/{blob.digest}")
        resp = self.t.request("HEAD", url, scopes=self.scopes, expect=(200, 404), cancel=self.cancel)
        resp.close()
        if resp.status_code == 404:
            return False
        length = resp.headers.get("Content-Length")
        if length is not None and not (length.isascii() and length.isdigit()):
            raise RegistryError(f"registry answered HEAD {blob.digest} with a malformed Content-Length "
                                f"{printable(length, 40)!r}", transient=False)
        if length is not None and int(length) != blob.size:
            raise RegistryError(f"registry holds {blob.digest} with size {length}, expected {blob.size}")
        return True

    def push(self, blob: Blob, mount_from: tuple[str, ...] = ()) -> BlobOutcome:
        if self.exists(blob):
            return BlobOutcome(str(blob.digest), blob.size, "exists")
        for source in mount_from:
            if self.mount(blob, source):  # refused (202): a normal upload follows
                return BlobOutcome(str(blob.digest), blob.size, "mounted")
        self._upload_with_retries(blob)
        if not self.exists(blob):
            raise RegistryError(f"registry does not hold {blob.digest} after uploading it")
        return BlobOutcome(str(blob.digest), blob.size, "uploaded")

    def mount(self, blob: Blob, source: str) -> bool:
        """Mount blob from another repository; False (its session cancelled) when refused. A
        mount is only a shortcut: a registry that answers it with an error (404 where GCR checks
        the blob exists in source, 401/403 for a source the account may not read, 400 from Quay)
        gets the blob uploaded instead."""
        try:
            location = self._mount(blob, source)
        except RegistryError as exc:
            if exc.status not in MOUNT_REFUSALS:
                raise
            log.debug("%s: mounting %s from %s refused (%s): uploading it", self.repo, blob.digest, source, exc)
            return False
        if location is not None:
            self._delete(location)
        return location is None

    def _mount(self, blob: Blob, source: str) -> str | None:
        url = self.t.url(f"/v2/{self.repo}/blobs/uploads/", mount=str(blob.digest), **{"from": source})
        scopes = (*self.scopes, f"repository:{source}:pull")
        resp = self.t.request("POST", url, scopes=scopes, expect=(201, 202), cancel=self.cancel)
        resp.close()
        if resp.status_code == 201:
            log.debug("mounted %s from %s", blob.digest, source)
            return None
        return self._location(url, resp)

    def _start(self) -> str:
        url = self.t.url(f"/v2/{self.repo}/blobs/uploads/")
        with write_refusal_explained(self.t.host, self.repo):
            resp = self.t.request("POST", url, scopes=self.scopes, expect=(202,), cancel=self.cancel)
        resp.close()
        minimum = resp.headers.get("OCI-Chunk-Min-Length", "")
        if minimum.isascii() and minimum.isdigit():
            self.min_chunk = int(minimum)
        location = self._location(url, resp)
        with self._open_lock:
            self._open.add(location)
        return location

    def _finished(self, location: str) -> None:
        with self._open_lock:
            self._open.discard(location)

    def abort_open_sessions(self) -> None:
        """DELETE every session still open (called after an interrupt); failures ignored."""
        with self._open_lock:
            open_now, self._open = list(self._open), set()
        for location in open_now:
            self._delete(location)

    def _location(self, request_url: str, resp: requests.Response) -> str:
        location = resp.headers.get("Location")
        if not location:
            raise RegistryError(f"POST {redact(request_url)} returned no Location header")
        # Relative forms ("/v2/…", "uploads/u") resolve against the request URL (RFC 3986).
        try:
            absolute = urljoin(request_url, location)
        except ValueError as exc:
            raise RegistryError(f"registry sent a malformed Location {printable(location, 120)!r}",
                                transient=False) from exc
        check_redirect_target(self.t.base, absolute, "upload location")
        return absolute

    def _delete(self, location: str) -> None:
        self._finished(location)
        try:
            self.t.request("DELETE", location, scopes=self.scopes, expect=(204, 200, 202, 404),
                           retry=False).close()
        except RegistryError as exc:
            log.debug("could not cancel upload session: %s", exc)

    def _upload_with_retries(self, blob: Blob) -> None:
        """Each attempt is a fresh session from byte 0; the transport's retry policy decides."""
        def attempt(_n: int) -> None:
            if self.cancel.is_set():  # another upload of this push failed for good: no new session
                raise Cancelled("upload cancelled")
            self._upload_once(blob)
        self.t.retry.run(attempt, f"upload of {blob.digest}")

    def _upload_once(self, blob: Blob) -> None:
        location = self._start()
        try:
            if self.chunk_size:
                self._chunked(blob, location)
            else:
                try:
                    self._monolithic(blob, location)
                except RegistryError as exc:
                    # Some registries (object storage behind them) take chunks only and answer a
                    # monolithic PUT with 404 or 405: chunks from now on, in a new session.
                    if exc.status not in (404, 405):
                        raise
                    self._delete(location)
                    self._finished(location)
                    self.chunk_size = max(self.min_chunk, FALLBACK_CHUNK)
                    log.info("%s/%s refused a monolithic upload (HTTP %s): uploading in chunks of %d bytes",
                             self.t.host, self.repo, exc.status, self.chunk_size)
                    location = self._start()
                    self._chunked(blob, location)
        except BaseException:
            self._delete(location)  # an abandoned session is cancelled, whatever stopped it
            raise
        self._finished(location)

    def _monolithic(self, blob: Blob, location: str) -> None:
        url = with_digest(location, str(blob.digest))
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(blob.size)}
        body = lambda: BodyReader(blob.open(), blob.size, str(blob.digest), self.progress, self.cancel)
        self._send_once("PUT", url, headers, body, (201,))

    def _send_once(self, method: str, url: str, headers: dict[str, str], body: Body,
                   expect: tuple[int, ...]) -> requests.Response:
        """One request of an upload session: a failure restarts the whole session (not resent alone)."""
        return self.t.request(method, url, scopes=self.scopes, expect=expect, headers=headers,
                              body=body, retry=False)

    def _chunked(self, blob: Blob, location: str) -> None:
        offset, size, recoveries = 0, blob.size, 0
        step = max(self.chunk_size, self.min_chunk, 1)
        while offset < size:
            length = min(step, size - offset)
            resp = self._patch(blob, location, offset, length)
            if resp.status_code == 416:
                resp.close()
                recoveries += 1
                if recoveries > self.t.retry.max_attempts:  # bounded: never loop
                    raise RegistryError("too many HTTP 416 answers; restarting the upload", status=416,
                                        transient=True)
                offset, location = self._resume_point(location, offset, size)
                continue
            location = self._location(location, resp) if resp.headers.get("Location") else location
            resp.close()
            offset += length
        url = with_digest(location, str(blob.digest))
        self._send_once("PUT", url, {"Content-Length": "0"}, b"", (201,)).close()

    def _patch(self, blob: Blob, location: str, offset: int, length: int) -> requests.Response:
        def body() -> BodyReader:
            src = blob.open()
            skip(src, offset)
            return BodyReader(src, length, str(blob.digest), self.progress, self.cancel, offset, blob.size)
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length),
                   "Content-Range": f"{offset}-{offset + length - 1}"}
        return self._send_once("PATCH", location, headers, body, (202, 416))

    def _resume_point(self, location: str, offset: int, size: int) -> tuple[int, str]:
        """After a 416, ask the registry how much it holds (GET → 204 Range: 0-N)."""
        resp = self.t.request("GET", location, scopes=self.scopes, expect=(204,), cancel=self.cancel)
        resp.close()
        try:
            position = int(resp.headers.get("Range", "").split("-", 1)[1]) + 1
        except (IndexError, ValueError):
            position = 0
        if position == offset or not 0 <= position <= size:
            # The position did not move (an ECR-like registry): restart rather than loop.
            raise RegistryError(f"upload position stuck at {position} after HTTP 416; restarting the upload",
                                status=416, transient=True)
        new_location = self._location(location, resp) if resp.headers.get("Location") else location
        return position, new_location
