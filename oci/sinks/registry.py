"""Registry sink: push an artifact to one or more references.

The protocol work lives in oci.registry (transport layers, auth, uploads,
manifests), built on `requests`; see docs/oras.md for why it is leango's own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..artifact import Artifact
from ..errors import RegistryError
from ..reference import Reference
from ..registry.credentials import Credential, CredentialSources, resolve
from ..registry.push import Pusher, PushReport
from ..registry.transport import RegistryOptions, Transport
from ..registry.upload import Progress
from .base import SinkResult

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
    kind: str = "registry"

    def write(self, artifact: Artifact, references: Sequence[Reference]) -> SinkResult:
        if not references:
            raise RegistryError("pushing needs at least one reference naming where to push")
        results = push(artifact, references, credentials=self.credentials, options=self.options,
                       mount_from=self.mount_from, progress=self.progress)
        registries = ", ".join(dict.fromkeys(r.registry for r in references))
        return SinkResult(self.kind, registries, tuple(r.reference for r in results), tuple(results))


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


def push(artifact: Artifact, references: Iterable[Reference], *, credentials: CredentialSources,
         options: RegistryOptions | None = None, mount_from: Iterable[str] = (),
         progress: Progress | None = None) -> list[PushResult]:
    """Push artifact to every reference; repositories of one registry share blobs by mount."""
    results: list[PushResult] = []
    pushed_repos: dict[str, list[str]] = {}
    transports: dict[tuple[str, Credential], Transport] = {}
    try:
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
                results.append(PushResult(Reference(registry, repository, tag, artifact.digest), report))
    finally:
        for transport in transports.values():
            transport.close()
    return results


def check_login(host: str, credential: Credential, options: RegistryOptions | None = None) -> None:
    """Raise RegistryError unless the registry accepts credential (GET /v2/)."""
    transport = Transport(registry_host(host), credential, options)
    try:
        transport.request("GET", transport.url("/v2/"), scopes=(), expect=(200,)).close()
    finally:
        transport.close()
