"""Hosted registries' documented quirks, emulated by the fake registry (tests/support/fakeregistry.py,
each mode named with its source in docs/registries.md): a push, a pull and a copy still work, or
fail saying what the registry refused. Each test also runs the same push against the fake without
the quirk, so it shows the quirk is what the special case is for."""

from __future__ import annotations

import json

import pytest

from leango.oci import Reference
from leango.oci.blob import Blob
from leango.oci.descriptor import Descriptor
from leango.oci.digest import Digest
from leango.oci.errors import RegistryError
from leango.oci.manifest import Manifest
from leango.oci.registry.client import Registry
from leango.oci.registry.credentials import CredentialSources
from leango.oci.registry.transport import RegistryOptions
from leango.oci.sinks.registry import push
from support.clock import instant_retry
from support.fakeregistry import Behaviour, FakeRegistry


@pytest.fixture
def fakes():
    made = []

    def make(**kw) -> FakeRegistry:
        made.append(FakeRegistry(Behaviour(**kw)))
        return made[-1]
    yield make
    for f in made:
        f.close()


def _sbom_of(image) -> Manifest:
    data = b'{"spdxVersion": "SPDX-2.3"}'
    return Manifest("application/spdx+json", (Blob(Descriptor("application/spdx+json", Digest.of_bytes(data),
                                                              len(data)), data=data),), subject=image.descriptor)


def _push(fake, image, repo="team/app", referrers=(), auth_file=None, attempts=3):
    retry = instant_retry(attempts)
    creds = CredentialSources(auth_files=(auth_file,)) if auth_file else CredentialSources()
    with Registry(creds, RegistryOptions(retry=retry)) as client:
        push(image, [Reference(fake.host, repo, "v1")], client=client, referrers=referrers)
        return client.repository(fake.host, repo).manifest("v1"), retry


def test_ecr_repositories_must_exist_first(fakes, make_image):
    # docs.aws.amazon.com/AmazonECR/latest/userguide/docker-push-ecr-image.html: "create the repository first"
    ecr = fakes(repositories=("team/app",))
    with pytest.raises(RegistryError) as info:
        _push(ecr, make_image(), repo="team/other")
    assert str(info.value) == (f"{ecr.host}/team/other does not exist, and the registry does not create "
                               "repositories on push (as Amazon ECR): create the repository first, then push again")
    assert info.value.attempts == 1  # final: not retried
    fetched, _ = _push(ecr, make_image(), repo="team/app")  # the repository that exists takes it
    assert fetched.digest == make_image().digest


def test_ecr_manifests_need_a_media_type_and_leangos_have_one(fakes, make_image):
    # ECR refuses an image manifest without a top-level mediaType (containerd#5126, oras-go#271)
    ecr = fakes(require_media_type=True)
    image = make_image()
    sbom = _sbom_of(image)
    _push(ecr, image, referrers=[sbom])  # image, referrer and the fallback index: each has mediaType
    stored = {ref: json.loads(body) for (_, ref), (_, body) in ecr.manifests.items()}
    assert all("mediaType" in doc for doc in stored.values()) and len(stored) >= 4
    # and the mode does refuse one without: a manifest lacking it is turned away
    with Registry(options=RegistryOptions(retry=instant_retry(1))) as client:
        repo = client.repository(ecr.host, "team/app")
        raw = json.dumps({"schemaVersion": 2, "config": {}, "layers": []}).encode()
        from leango.oci.registry.push import Pusher
        with pytest.raises(RegistryError, match="MANIFEST_INVALID"):
            Pusher(repo.t, "team/app").put_manifest(
                Blob(Descriptor("application/vnd.oci.image.manifest.v1+json", Digest.of_bytes(raw), len(raw)),
                     data=raw), "bare")


def test_a_registry_manifest_limit_is_said(fakes, make_image):
    small = fakes(manifest_limit=300)
    image = make_image()
    with pytest.raises(RegistryError) as info:
        _push(small, image)
    assert str(info.value) == f"the registry refused manifest v1 ({len(image.raw)} bytes) as too large (HTTP 413)"
    _push(fakes(manifest_limit=4 << 20), image)  # under the limit: pushed


def test_docker_hub_rate_limits_wait_for_retry_after(fakes, make_image):
    # docs.docker.com/docker-hub/usage/: 429 Too Many Requests with Retry-After
    hub = fakes(rate_limited=3)
    fetched, retry = _push(hub, make_image(), attempts=5)
    assert fetched.digest == make_image().digest
    assert list(retry.sleep) == [1.0, 1.0, 1.0]  # Retry-After honoured, no backoff guess
    with pytest.raises(RegistryError, match="429"):
        _push(fakes(rate_limited=10), make_image(), attempts=3)  # bounded: it gives up


def test_gcr_401_without_a_challenge_uses_the_one_from_v2(fakes, make_image, tmp_path):
    # GCR/Artifact Registry: some 401s carry no WWW-Authenticate (go-containerregistry's
    # transport keeps the /v2/ ping's challenge for them, pkg/v1/remote/transport/bearer.go)
    import base64
    gcr = fakes(auth="bearer", bare_401=True, pull_only_tokens=1)  # the first token cannot push: a bare 401
    auth = tmp_path / "auth.json"
    auth.write_text(json.dumps({"auths": {gcr.host: {"auth": base64.b64encode(b"user:pass").decode()}}}))
    fetched, _ = _push(gcr, make_image(), auth_file=auth)
    assert fetched.digest == make_image().digest
    assert len(gcr.token_requests) >= 2  # a second token, from the realm /v2/ named
