"""Registry sink: push an artifact to one or more references.

The protocol work lives in oci.registry (transport layers, auth, uploads,
manifests), built on `requests`; see docs/oras.md for why it is leango's own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial

from ..artifact import Artifact
from ..blob import Blob
from ..errors import RegistryError
from ..reference import Reference
from ..referrers import Tagged
from ..registry.client import Registry, Repository
from ..registry.credentials import CredentialSources
from ..registry.push import PushReport
from ..registry.transport import RegistryOptions
from ..registry.upload import Progress
from .base import SinkKind, SinkResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PushResult:
    reference: Reference  # with digest
    report: PushReport


@dataclass(frozen=True)
class RegistrySink:
    """Pushes to every reference's registry; credentials are located, never carried, here."""
    credentials: CredentialSources = field(default_factory=CredentialSources)
    options: RegistryOptions | None = None
    mount_from: tuple[str, ...] = ()
    progress: Progress | None = field(default=None, compare=False)
    by_digest: bool = False  # push each repository's manifest untagged: the references name repositories
    kind: SinkKind = "registry"

    def write(self, artifact: Artifact, references: Sequence[Reference],
              referrers: Sequence[Artifact] = ()) -> SinkResult:
        if not references:
            raise RegistryError("pushing needs at least one reference naming where to push")
        if self.by_digest:  # one untagged push per repository
            references = list({(r.registry, r.repository): Reference(r.registry, r.repository)
                               for r in references}.values())
        results = push(artifact, references, credentials=self.credentials, options=self.options,
                       mount_from=self.mount_from, progress=self.progress, referrers=referrers)
        registries = ", ".join(dict.fromkeys(r.registry for r in references))
        return SinkResult(self.kind, registries, tuple(r.reference for r in results), pushed=tuple(results))


def _group(references: Iterable[Reference]) -> dict[tuple[str, str], list[str]]:
    """Tags per repository; a reference with neither tag nor digest pushes untagged (by digest)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for ref in references:
        if ref.digest is not None and not ref.tag:
            raise RegistryError(f"cannot push to {ref}: a digest reference names content, not a tag")
        tags = groups.setdefault((ref.registry, ref.repository), [])
        if ref.tag:
            tags.append(ref.tag)
    return groups


def _merged(repo: Repository, referrer: Tagged) -> Artifact:
    """What to push under a Tagged referrer's tag: merged with what the tag holds, if it says so."""
    if referrer.merge is None:
        return referrer.artifact
    try:
        existing: bytes | None = repo.manifest(referrer.tag).raw
    except RegistryError as exc:
        if not exc.not_found:
            raise
        existing = None
    return referrer.merged(existing, lambda d: Blob(d, opener=partial(repo.open_blob, d)))


def push(artifact: Artifact, references: Iterable[Reference], *, client: Registry | None = None,
         credentials: CredentialSources | None = None, options: RegistryOptions | None = None,
         mount_from: Iterable[str] = (), progress: Progress | None = None,
         referrers: Sequence[Artifact] = ()) -> list[PushResult]:
    """Push artifact to every reference, then each of its referrers (listed for their subjects);
    repositories of one registry share blobs by mount. Through client, or a Registry opened
    from credentials and options for this push alone."""
    if client is None:
        with Registry(credentials, options) as own:
            return push(artifact, references, client=own, mount_from=mount_from, progress=progress,
                        referrers=referrers)
    results: list[PushResult] = []
    pushed_repos: dict[str, list[str]] = {}
    for (registry, repository), tags in _group(references).items():
        repo = client.repository(registry, repository)
        sources = (*mount_from, *pushed_repos.get(registry, []))
        log.info("pushing to %s/%s", registry, repository)
        report = repo.push(artifact, tuple(tags), mount_from=tuple(sources), progress=progress)
        for referrer in referrers:
            if isinstance(referrer, Tagged):
                log.info("attaching %s as %s to %s", referrer.digest, referrer.tag, repo)
                extra = repo.push(_merged(repo, referrer), (referrer.tag,), mount_from=tuple(sources),
                                  progress=progress)
            else:
                log.info("attaching %s (%s) to %s", referrer.digest, referrer.media_type, repo)
                extra = repo.push(referrer, (), mount_from=tuple(sources), progress=progress)
            report.blobs.extend(extra.blobs)
        pushed_repos.setdefault(registry, []).append(repository)
        for tag in tags or [""]:
            results.append(PushResult(Reference(registry, repository, tag, artifact.digest), report))
    return results
