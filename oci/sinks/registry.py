"""Registry sink: push an Image or Index to one or more references.

The protocol work lives in oci.registry (transport, auth, uploads, manifests),
built on `requests`. oras-py 0.2.43 is pinned but its push path is not used:
it reads whole blobs into memory, has no timeouts, retries only on 500 and
re-serialises manifests with a fixed content type (see the package notes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable

from ..errors import RegistryError
from ..reference import Reference
from ..registry.credentials import CredentialSources, resolve
from ..registry.push import Pusher, PushReport
from ..registry.transport import RegistryOptions, Transport
from ..registry.upload import Progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PushResult:
    reference: Reference  # with digest
    report: PushReport


def _group(references: Iterable[Reference]) -> dict[tuple[str, str], list[str]]:
    groups: dict[tuple[str, str], list[str]] = {}
    for ref in references:
        if ref.digest is not None and not ref.tag:
            raise RegistryError(f"cannot push to {ref}: a digest reference names content, not a tag")
        groups.setdefault((ref.registry, ref.repository), []).append(ref.tag)
    return groups


def registry_host(registry: str) -> str:
    """Docker Hub's API lives at registry-1.docker.io."""
    return "registry-1.docker.io" if registry == "docker.io" else registry


def push(artifact, references: Iterable[Reference], *, credentials: CredentialSources,
         options: RegistryOptions = RegistryOptions(), mount_from: Iterable[str] = (),
         progress: Progress | None = None) -> list[PushResult]:
    """Push artifact to every reference; repositories of one registry share blobs by mount."""
    results: list[PushResult] = []
    pushed_repos: dict[str, list[str]] = {}
    transports: dict[tuple, Transport] = {}
    for (registry, repository), tags in _group(references).items():
        host = registry_host(registry)
        cred = resolve(credentials, registry, repository)
        # One transport (and token cache) per host and credential: auth.json may
        # hold different credentials for different namespaces of one registry.
        if (host, cred) not in transports:
            transports[(host, cred)] = Transport(host, cred, options)
        transport = transports[(host, cred)]
        sources = (*mount_from, *pushed_repos.get(host, []))
        log.info("pushing to %s/%s", registry, repository)
        report = Pusher(transport, repository, mount_from=tuple(sources),
                        progress=progress).push(artifact, tuple(tags))
        pushed_repos.setdefault(host, []).append(repository)
        for tag in tags:
            ref = Reference(registry, repository, tag, artifact.digest)
            results.append(PushResult(ref, report))
    return results


def check_login(host: str, credential, options: RegistryOptions = RegistryOptions()) -> None:
    """Raise RegistryError unless the registry accepts credential (GET /v2/)."""
    transport = Transport(registry_host(host), credential, options)
    transport.request("GET", transport.url("/v2/"), scopes=(), expect=(200,)).close()
