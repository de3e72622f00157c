"""Hosted registries' documented quirks, emulated by the fake registry (tests/support/fakeregistry.py,
each mode named with its source in docs/registries.md): a push, a pull and a copy still work, or
fail saying what the registry refused. Each test also runs the same push against the fake without
the quirk, so it shows the quirk is what the special case is for."""

from __future__ import annotations

import json

import pytest

from leango.oci import Index, Platform, Reference, mediatypes
from leango.oci.blob import Blob
from leango.oci.descriptor import Descriptor
from leango.oci.digest import Digest
from leango.oci.errors import RegistryError
from leango.oci.registry.client import Registry
from leango.oci.registry.credentials import CredentialSources
from leango.oci.registry.transport import RegistryOptions
from leango.oci.sinks.registry import push
from support.artifacts import sbom_of
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
    sbom = sbom_of(image)
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


def test_ghcr_range_0_0_after_a_patch_is_not_taken_as_the_resume_point(fakes, make_image):
    # GHCR answers every PATCH with Range: 0-0 (issue 20); leango sends each chunk after the
    # last one it sent, and reads where the registry is only after a 416.
    image = make_image()
    for fake in (fakes(patch_range_zero=True), fakes()):
        with Registry(options=RegistryOptions(retry=instant_retry(2), chunk_size=64 * 1024)) as client:
            push(image, [Reference(fake.host, "team/app", "v1")], client=client)
        patches = [c for c in fake.find("PATCH") if "/team/app/" in c.path]
        assert len(patches) > 3  # the layer went in chunks
        layer = max(image.layers, key=lambda b: b.descriptor.size)
        assert fake.blobs["team/app"][str(layer.descriptor.digest)] == layer.open().read()


def test_docker_hub_says_push_is_denied_only_at_the_upload(fakes, make_image):
    # Docker Hub's token endpoint grants push to an account that may only pull; the first
    # upload is refused: 403 DENIED "requested access to the resource is denied" (docker/for-mac#1271)
    hub = fakes(deny_push=True)
    with pytest.raises(RegistryError) as info:
        _push(hub, make_image(), attempts=5)
    assert str(info.value) == (f"the registry denied pushing to {hub.host}/team/app (DENIED: requested access to "
                               "the resource is denied): check the repository name, and that the account logged "
                               "in to the registry may push there")
    # final at once: one POST per upload already in flight (3 in parallel), none retried
    assert info.value.attempts == 1 and 1 <= len(hub.find("POST")) <= 3
    assert _push(fakes(), make_image())[0].digest == make_image().digest


def test_quay_mounts_always_name_their_source(fakes, make_image, do_push):
    # Quay refuses a mount without from (issue 20); leango mounts only from a named repository
    quay = fakes(mount_needs_from=True)
    image = make_image()
    results = do_push(image, [f"{quay.host}/one/app:v1", f"{quay.host}/two/app:v1"])
    assert {b.action for b in results[1].report.blobs} == {"mounted"}
    mounts = [c for c in quay.find("POST") if "mount" in c.query]
    assert mounts and all(c.query.get("from") == "one/app" for c in mounts)
    # the mode does refuse a mount without from
    import requests
    bare = requests.post(f"http://{quay.host}/v2/three/app/blobs/uploads/?mount={image.layers[0].digest}")
    assert bare.status_code == 400


def test_quay_415_for_a_manifest_type_it_does_not_take_is_said(fakes, make_image):
    # Quay answers 415 to manifest media types it is not set up for (quay.io docs, "OCI support")
    image = make_image()
    quay = fakes(manifest_types=(mediatypes.DOCKER_MANIFEST, mediatypes.DOCKER_MANIFEST_LIST))
    with pytest.raises(RegistryError) as info:
        _push(quay, image)
    assert str(info.value) == (f"the registry does not take manifests of type {mediatypes.OCI_MANIFEST} (HTTP "
                               f"415): it refused v1 (MANIFEST_INVALID: manifest type {mediatypes.OCI_MANIFEST} "
                               "is not supported)")
    assert info.value.attempts == 1
    fetched, _ = _push(fakes(manifest_types=(mediatypes.OCI_MANIFEST, mediatypes.OCI_INDEX)), image)
    assert fetched.digest == image.digest


def test_harbor_unknown_manifest_as_unknown_is_still_not_found(fakes, make_image):
    # Harbor 2.10 answers an unknown manifest with 404 {"code": "UNKNOWN", "message": "... not
    # found"} (containers/image#2203, fixed for it in containers/image#2413); leango goes by the
    # status: the fallback tag that is not there yet reads as no referrers
    for code in ("UNKNOWN", "NOT_FOUND", "MANIFEST_UNKNOWN"):
        harbor = fakes(unknown_code=code)
        image = make_image()
        sbom = sbom_of(image)
        _push(harbor, image, referrers=[sbom])
        with Registry(options=RegistryOptions(retry=instant_retry(2))) as client:
            repo = client.repository(harbor.host, "team/app")
            assert [d.digest for d in repo.referrers(image.digest)] == [sbom.digest]
            with pytest.raises(RegistryError) as info:
                repo.manifest("missing")
            assert info.value.not_found and info.value.attempts == 1, code


def test_ecr_tag_lists_in_pages_of_1000(fakes, make_image):
    # ECR lists at most 1000 tags per page, with a Link to the next (ECR ListImages / the
    # distribution API's pagination); leango follows every page
    ecr = fakes(tag_page=1000)
    image = make_image()
    _push(ecr, image)
    body = ecr.manifests[("team/app", "v1")]
    names = {f"t{i:04d}" for i in range(1500)} | {"v1"}
    for name in names:
        ecr.manifests[("team/app", name)] = body
    with Registry(options=RegistryOptions(retry=instant_retry(2))) as client:
        repo = client.repository(ecr.host, "team/app")
        assert sorted(repo.tags()) == sorted(names)
        assert sorted(repo.tags(page_size=400)) == sorted(names)
    pages = [c for c in ecr.find("GET", "/tags/list$")]
    assert len(pages) == 2 + 4  # 1000 + 501, then 400 × 3 + 301


def test_artifactory_malformed_tag_list_entries_are_left_out(fakes, make_image):
    # Artifactory and Nexus have listed null and empty entries in tags/list (issue 20); the tags
    # around them are kept
    for fake in (fakes(malformed_tags=True), fakes()):
        _push(fake, make_image())
        body = fake.manifests[("team/app", "v1")]
        fake.manifests[("team/app", "v2")] = body
        with Registry(options=RegistryOptions(retry=instant_retry(2))) as client:
            assert client.repository(fake.host, "team/app").tags() == ["v1", "v2"]


def test_ecr_refusing_referrers_of_an_index_is_said(fakes, make_image):
    # ECR refuses a manifest whose subject is an image index (405; issue 20); the referrers of
    # each platform's image still go
    index = Index((make_image(), make_image(platform=Platform("linux", "amd64", "v3"))))
    provenance = sbom_of(index)
    ecr = fakes(refuse_index_subject=True)
    with pytest.raises(RegistryError) as info:
        _push(ecr, index, referrers=[provenance])
    assert str(info.value) == (f"the registry refused manifest {provenance.digest}, attached to the image index "
                               f"{index.digest} (HTTP 405): it takes no referrers of an index (as Amazon ECR); "
                               "leave out what is attached to the index (the provenance, the index's signature) "
                               "or push to another registry")
    assert info.value.attempts == 1
    platform_sbom = sbom_of(index.manifests[0])
    _push(fakes(refuse_index_subject=True), index, referrers=[platform_sbom])  # a platform's: taken
    _push(fakes(), index, referrers=[provenance])  # elsewhere the index's is taken too


def test_zot_collects_untagged_manifests_but_not_once_an_index_lists_them(fakes, make_image, tmp_path):
    # zot's garbage collection deletes untagged manifests after gcDelay (zotregistry.dev,
    # "Garbage collection": retention of untagged manifests); a matrix job's image pushed by
    # digest survives once `leango index create` lists it, and a later merge of one already
    # collected says what went missing
    from support.cli import leango
    zot = fakes(gc_untagged=4.0)  # seconds: time for the CLI to start and merge
    images = [make_image(), make_image(platform=Platform("linux", "amd64", "v3")),
              make_image(platform=Platform("linux", "arm", "v7"))]
    with Registry(options=RegistryOptions(retry=instant_retry(2))) as client:
        repo = client.repository(zot.host, "team/app")
        for image in images:
            repo.push(image)  # untagged, as --push-by-digest
    first, second, late = (f"{zot.host}/team/app@{image.digest}" for image in images)
    merged = leango("index", "create", f"{zot.host}/team/app:v1", first, second, env={"HOME": str(tmp_path)})
    assert merged.returncode == 0
    import time
    time.sleep(max(0.0, zot.pushed_at[("team/app", str(images[2].digest))] + 4.2 - time.monotonic()))
    with Registry(options=RegistryOptions(retry=instant_retry(2))) as client:
        repo = client.repository(zot.host, "team/app")
        assert repo.manifest(str(images[0].digest)).digest == images[0].digest  # listed: kept
        assert repo.manifest(str(images[1].digest)).digest == images[1].digest
        with pytest.raises(RegistryError) as info:
            repo.manifest(str(images[2].digest))  # never listed: collected
        assert info.value.not_found
    late_merge = leango("index", "create", f"{zot.host}/team/app:v2", first, late, env={"HOME": str(tmp_path)},
                        check=False)
    assert late_merge.returncode == 1
    assert late_merge.stderr == (f"leango: error: {late}: not in the registry (HTTP 404 MANIFEST_UNKNOWN). An "
                                 "image pushed by digest (untagged) may have been deleted by the registry's garbage "
                                 "collection of untagged manifests (zot, Harbor, ECR lifecycle rules): merge soon "
                                 "after the pushes, or push with a tag\n")


@pytest.mark.parametrize("status", [404, 403])
def test_a_refused_mount_falls_back_to_an_upload(fakes, make_image, do_push, status):
    # GCR/GAR check that a mount's blob is in its from repository, and Docker Hub that the
    # account may read it (issue 20): an error instead of the spec's 202 with a new session.
    # A mount is a shortcut: the blob is uploaded instead.
    image = make_image()
    for fake in (fakes(mount_refused=status), fakes()):
        [result] = do_push(image, [f"{fake.host}/team/app:v1"], mount_from=["elsewhere/app"])
        assert {b.action for b in result.report.blobs} == {"uploaded"}
        assert fake.manifests[("team/app", "v1")][1] == image.raw
        assert [c.query.get("from") for c in fake.find("POST") if "mount" in c.query] == ["elsewhere/app"] * 3


def test_a_copy_between_registries_never_asks_to_mount_across_them(fakes, make_image, tmp_path):
    # Docker Hub does not honour a mount whose from is on another registry (distribution spec:
    # from names a repository of the same registry); leango copies registry to registry by
    # reading the blobs and uploading them, and mounts only from the destination's repositories
    from support.cli import leango
    source, hub = fakes(), fakes()
    _push(source, make_image())
    leango("copy", f"{source.host}/team/app:v1", f"{hub.host}/library/app:v1", env={"HOME": str(tmp_path)})
    assert hub.manifests[("library/app", "v1")][1] == make_image().raw
    assert [c for c in hub.find("POST") if "mount" in c.query] == []


# Every mode a client can get through: the same push (with an SBOM attached), pull, copy,
# referrers and Go cache must work in each. The modes that refuse something have their own
# tests above, for the message.
PASSABLE = {
    "ecr-media-type": {"require_media_type": True},
    "ecr-tag-pages": {"tag_page": 1},
    "hub-rate-limit": {"rate_limited": 2},
    "hub-no-mount": {"mount": False},
    "gcr-bare-401": {"auth": "bearer", "bare_401": True, "pull_only_tokens": 1},
    "gcr-mount-checked": {"mount_refused": 404},
    "ghcr-range": {"patch_range_zero": True},
    "quay-from": {"mount_needs_from": True},
    "quay-no-delete": {"auth": "bearer", "no_delete_scope": True},
    "harbor-unknown": {"unknown_code": "UNKNOWN"},
    "artifactory-tags": {"malformed_tags": True},
    "zot-gc": {"gc_untagged": 60.0},
    "chunks-only": {"monolithic": False, "chunk_min": 4096},
    "manifest-limit": {"manifest_limit": 1 << 20},
}


@pytest.mark.parametrize("mode", sorted(PASSABLE))
def test_push_pull_copy_referrers_and_cache_through_each_quirk(mode, make_image, tmp_path):
    import base64
    import io

    from leango.builder import cacheremote
    from leango.builder.gocache import CacheKey, RemoteCache, Store
    from leango.oci import parse_reference
    from support.cli import leango
    from support.gocache import fill
    fake = FakeRegistry(Behaviour(**PASSABLE[mode]))
    try:
        auth = tmp_path / "auth.json"
        auth.write_text(json.dumps({"auths": {fake.host: {"auth": base64.b64encode(b"user:pass").decode()}}}))
        creds = CredentialSources(auth_files=(auth,))
        options = RegistryOptions(retry=instant_retry(4), chunk_size=64 * 1024 if mode == "ghcr-range" else 0)
        image = make_image()
        sbom = sbom_of(image)
        with Registry(creds, options) as client:
            push(image, [Reference(fake.host, "team/app", "v1")], client=client, referrers=[sbom],
                 mount_from=["team/base"])
            repo = client.repository(fake.host, "team/app")
            assert repo.manifest("v1").digest == image.digest
            layer = image.layers[-1]
            out = io.BytesIO()
            repo.blob(layer.descriptor, out)
            assert out.getvalue() == layer.open().read()
            assert [d.digest for d in repo.referrers(image.digest)] == [sbom.digest]
        env = {"HOME": str(tmp_path), "REGISTRY_AUTH_FILE": str(auth)}
        copied = json.loads(leango("copy", f"{fake.host}/team/app:v1", f"oci:{tmp_path / 'out'}:v1", "--json",
                                   env=env).stdout)
        assert copied["digest"] == str(image.digest)
        listed = {e["digest"] for e in json.loads((tmp_path / "out" / "index.json").read_text())["manifests"]}
        assert listed == {str(image.digest), str(sbom.digest)}
        leango("copy", f"oci:{tmp_path / 'out'}:v1", f"{fake.host}/team/copy:v1", env=env)
        assert fake.manifests[("team/copy", "v1")][1] == image.raw

        key = CacheKey("go1.26.8", "linux/amd64", ("linux/amd64",))
        ref = parse_reference(f"{fake.host}/team/cache:go")
        fill(tmp_path / "one" / "go-build", [f"p{i}" for i in range(50)])
        cacheremote.save(RemoteCache(cache_to=ref, credentials=creds, registry=options), key,
                         tmp_path / "one" / "go-build", Store.open(tmp_path / "one" / "store"))
        restored = cacheremote.restore(RemoteCache(cache_from=(ref,), credentials=creds, registry=options), key,
                                       tmp_path / "two" / "go-build", Store.open(tmp_path / "two" / "store"))
        assert restored == 50
    finally:
        fake.close()
