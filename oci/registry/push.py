"""Push an Image or Index: blobs (in parallel), then manifests, then tags.

Ordering: no manifest is PUT before every blob it names is
confirmed; an index only after all its child manifests. The bytes PUT are the
bytes hashed, with Content-Type equal to their mediaType, and
the registry's Docker-Content-Digest, when sent, must agree.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field

from .. import mediatypes
from ..artifact import Artifact, unique
from ..blob import Blob
from ..errors import RegistryError
from .transport import Transport
from .upload import BlobOutcome, BlobUploader, Cancelled, Progress, write_refusal_explained

log = logging.getLogger(__name__)
CANCEL_GRACE = 5.0  # seconds the workers get to DELETE their sessions after an interrupt


@dataclass
class PushReport:
    digest: str
    tags: list[str]
    blobs: list[BlobOutcome] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for b in self.blobs if b.action == action)

    @property
    def bytes_uploaded(self) -> int:
        return sum(b.size for b in self.blobs if b.action == "uploaded")


class Pusher:
    def __init__(self, transport: Transport, repository: str, *, mount_from: tuple[str, ...] = (),
                 progress: Progress | None = None):
        self.t = transport
        self.repo = repository
        self.mount_from = tuple(m for m in mount_from if m != repository)
        self.progress = progress
        self.cancel = threading.Event()
        self.indexed_by_registry = False  # the registry answered the root's PUT with OCI-Subject
        self.uploader = BlobUploader(transport, repository, cancel=self.cancel, progress=progress,
                                     chunk_size=transport.options.chunk_size
                                     or dict(transport.options.learned_chunks).get(transport.host, 0))

    def push(self, artifact: Artifact, tags: tuple[str, ...]) -> PushReport:
        report = PushReport(str(artifact.digest), list(tags))
        report.blobs = self._push_blobs(list(unique(artifact.blobs())))
        for child in artifact.child_manifests():  # children before their parents
            self.put_manifest(child, str(child.digest))
        for ref in tags or (str(artifact.digest),):
            self.indexed_by_registry = self.put_manifest(artifact.root, ref) or self.indexed_by_registry
        return report

    def _push_blobs(self, blobs: list[Blob]) -> list[BlobOutcome]:
        """Upload with at most `concurrency` workers; the first failure stops the rest.

        Workers are daemon threads joined from this (main) thread, so Ctrl-C or
        SIGTERM interrupts the wait at once: running uploads then stop at their
        next read and DELETE their sessions, within CANCEL_GRACE seconds.
        """
        self.t.ping()  # once, before the threads share the connection settings
        queue, results, errors = list(reversed(blobs)), {}, []
        lock = threading.Lock()

        def worker() -> None:
            while not self.cancel.is_set():
                with lock:
                    if not queue:
                        return
                    blob = queue.pop()
                try:
                    results[blob.digest] = self.uploader.push(blob, self.mount_from)
                except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                    self.cancel.set()
                    errors.append(exc)
                    return

        threads = [threading.Thread(target=worker, name=f"leango-push-{i}", daemon=True)
                   for i in range(max(1, min(self.t.options.concurrency, len(blobs))))]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                thread.join()
        except BaseException:
            self.cancel.set()
            deadline = time.monotonic() + CANCEL_GRACE
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
            # A worker still blocked on the network cannot clean up: do it for it.
            self.uploader.abort_open_sessions()
            raise
        if errors:
            raise _first_real_error(errors)
        return [results[b.digest] for b in blobs]

    def put_manifest(self, blob: Blob, reference: str) -> bool:
        """PUT a manifest; True when the registry says (OCI-Subject) it indexed its subject."""
        url = self.t.url(f"/v2/{self.repo}/manifests/{reference}")
        data = blob.data if blob.data is not None else blob.open().read()
        headers = {"Content-Type": blob.descriptor.media_type}
        try:
            with write_refusal_explained(self.t.host, self.repo):
                resp = self.t.request("PUT", url, scopes=(f"repository:{self.repo}:pull,push",),
                                      expect=(201,), headers=headers, body=data)
        except RegistryError as exc:
            said = _manifest_refusal(exc, reference, blob.descriptor.media_type, data)
            if not said:
                raise
            raise RegistryError(said, status=exc.status, errors=exc.errors, transient=False) from exc
        resp.close()
        echoed = resp.headers.get("Docker-Content-Digest")
        if echoed and echoed != str(blob.digest):
            raise RegistryError(f"registry stored manifest {reference} as {echoed}, "
                                f"but we sent {blob.digest}")
        log.debug("put manifest %s (%s)", reference, blob.digest)
        return bool(resp.headers.get("OCI-Subject"))


def _first_real_error(errors: list[BaseException]) -> BaseException:
    return next((e for e in errors if not isinstance(e, Cancelled)), errors[0])


def _manifest_refusal(exc: RegistryError, reference: str, media_type: str, data: bytes) -> str:
    """What a registry's refusal of a manifest means, where its status says more than its
    message; "" for the others."""
    if exc.status == 413:  # a registry's own manifest limit, below the spec's 4 MiB or not
        return f"the registry refused manifest {reference} ({len(data)} bytes) as too large (HTTP 413)"
    if exc.status == 415:  # Quay, for media types it was not set up to take
        return (f"the registry does not take manifests of type {media_type} (HTTP 415): it refused {reference}"
                + (f" ({exc.errors[0]})" if exc.errors else ""))
    if exc.status == 405:  # Amazon ECR, for a referrer of an image index
        try:
            subject = json.loads(data).get("subject") or {}
        except (ValueError, AttributeError):
            subject = {}
        if isinstance(subject, dict) and subject.get("mediaType") in mediatypes.INDEX_TYPES:
            return (f"the registry refused manifest {reference}, attached to the image index {subject.get('digest')}"
                    " (HTTP 405): it takes no referrers of an index (as Amazon ECR); leave out what is attached "
                    "to the index (the provenance, the index's signature) or push to another registry")
    return ""
