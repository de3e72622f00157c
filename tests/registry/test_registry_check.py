"""leango registry check reports what each registry was set up to do — real ones (distribution 2.8
with and without delete, with TLS and htpasswd; go-containerregistry's with and without the
referrers API) and the fake one in its quirk modes — and leaves nothing behind where it may
delete; a push uses what a check learned."""

from __future__ import annotations

import base64
import json
import subprocess

import pytest

from leango.oci import Digest, mediatypes
from leango.oci.registry import learned, probe
from leango.oci.registry.client import Registry
from leango.oci.registry.credentials import CredentialSources
from leango.oci.registry.transport import RegistryOptions
from support.cli import leango
from support.clock import instant_retry
from support.fakeregistry import Behaviour, FakeRegistry
from support.goregistry import GoRegistry
from support.registry import PASSWORD, USER, RealRegistry
from support.tools import require_go_tool

REPO = "team/check"


def checks(stdout: str) -> dict:
    doc = json.loads(stdout)
    return {k: v["value"] for k, v in doc["checks"].items()} | {"left": doc["leftBehind"]}


def nothing_left(host: str, insecure=True, extra=()) -> None:
    """The repository holds no tag, and not the probe's blob."""
    crane = require_go_tool("crane")
    tags = subprocess.run([crane, "ls", *(["--insecure"] if insecure else []), *extra, f"{host}/{REPO}"],
                          capture_output=True, text=True)
    assert tags.stdout.split() == [], tags.stdout
    blob = subprocess.run([crane, "blob", *(["--insecure"] if insecure else []), *extra,
                           f"{host}/{REPO}@{Digest.of_bytes(probe.PROBE_BLOB)}"], capture_output=True)
    assert blob.returncode != 0  # gone


def test_distribution_plain_http(registry, tmp_path):
    out = leango("registry", "check", f"{registry.host}/{REPO}", "--json", "--cache-dir", tmp_path)
    found = checks(out.stdout)
    assert found == {"scheme": "http", "tls_verified": False, "auth": "none", "pull": True, "push": True,
                     "upload": {"monolithic": True, "chunked": None, "minChunk": 0}, "mount": True,
                     "zstd_layers": True, "manifest_4mib": True, "referrers_api": False, "tag_paging": False,
                     "delete": True, "left": []}
    nothing_left(registry.host)
    # the table says the same, one line each
    table = leango("registry", "check", f"{registry.host}/{REPO}", "--cache-dir", tmp_path).stdout.splitlines()
    assert table[0].startswith("registry") and table[-1].split() == ["left", "behind", "nothing"]
    assert any(line.split()[:3] == ["referrers", "API", "no"] for line in table)
    assert learned.capabilities_path(tmp_path, registry.host).is_file()


def test_distribution_without_delete_says_what_it_left(tmp_path):
    reg = RealRegistry(tmp_path / "nodelete", delete=False)
    try:
        found = checks(leango("registry", "check", f"{reg.host}/{REPO}", "--json", "--cache-dir", tmp_path).stdout)
        assert found["delete"] is False
        assert sorted(x.split()[0] for x in found["left"]) == ["blob", "blob", "manifest", "manifest", "manifest",
                                                               "tag", "tag"]
        assert "tag leango-check-1" in found["left"]
        said = json.loads(leango("registry", "check", f"{reg.host}/{REPO}", "--json", "--cache-dir",
                                 tmp_path).stdout)["checks"]["delete"]["said"]
        assert said == "disabled by the registry"
    finally:
        reg.stop()


def test_tls_and_basic_auth(secure_registry, registry_ca, tmp_path):
    auth = tmp_path / "auth.json"
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    auth.write_text(json.dumps({"auths": {secure_registry.host: {"auth": token}}}))
    env = {"HOME": str(tmp_path), "REGISTRY_AUTH_FILE": str(auth)}
    args = ["registry", "check", f"{secure_registry.host}/{REPO}", "--json", "--registry-ca", registry_ca.ca_cert,
            "--cache-dir", tmp_path]
    found = checks(leango(*args, env=env).stdout)
    assert (found["scheme"], found["tls_verified"], found["auth"]) == ("https", True, "basic")
    assert found["pull"] and found["push"] and found["delete"] and found["left"] == []
    # wrong credentials: nothing granted, nothing probed, nothing written
    auth.write_text(json.dumps({"auths": {secure_registry.host: {"auth": base64.b64encode(b"x:y").decode()}}}))
    denied = json.loads(leango(*args, env=env).stdout)["checks"]
    assert denied["pull"]["value"] is False and "authentication failed" in denied["pull"]["said"]
    assert denied["referrers_api"] == {"value": None, "said": "not probed: pushing is not granted"}
    # without the CA: the certificate is refused, in one line, exit 1
    refused = leango(*args[:4], "--cache-dir", tmp_path, env=env, check=False)
    assert refused.returncode == 1 and "TLS verification failed" in refused.stderr


@pytest.mark.parametrize("referrers", [True, False])
def test_go_containerregistry_with_and_without_the_referrers_api(referrers, tmp_path):
    reg = GoRegistry(referrers=referrers)
    try:
        found = checks(leango("registry", "check", f"{reg.host}/{REPO}", "--json", "--cache-dir", tmp_path).stdout)
        assert found["referrers_api"] is referrers
        assert found["mount"] is False  # it starts an upload instead
        assert found["delete"] is True and found["left"] == []
    finally:
        reg.stop()


def _check(fake: FakeRegistry, auth_file=None) -> probe.Report:
    creds = CredentialSources(auth_files=(auth_file,)) if auth_file else CredentialSources()
    with Registry(creds, RegistryOptions(retry=instant_retry(2))) as client:
        return probe.check(client, fake.host, REPO)


def test_a_registry_refusing_monolithic_uploads_and_its_chunk_minimum(tmp_path):
    fake = FakeRegistry(Behaviour(monolithic=False, chunk_min=1024, mount=False, auth="bearer"))
    try:
        auth = tmp_path / "auth.json"
        auth.write_text(json.dumps({"auths": {fake.host: {"auth": base64.b64encode(b"user:pass").decode()}}}))
        report = _check(fake, auth)
        assert report.get("upload") == {"monolithic": False, "chunked": True, "minChunk": 1024}
        assert report.get("mount") is False and report.get("auth") == "bearer"
        assert report.get("token_realm") == f"http://{fake.host}/token"
        # a push after the check sends chunks: no monolithic PUT reaches the registry
        probe.save(tmp_path, report)
        assert learned.learned_chunk_size(tmp_path, fake.host) == 5 * 1024 * 1024
        assert learned.learned_chunk_size(tmp_path, fake.host, now=lambda: 10 ** 12) == 0  # too old
        assert learned.learned_chunk_size(tmp_path, "other.example") == 0
    finally:
        fake.close()
    plain = FakeRegistry(Behaviour())
    try:
        report = _check(plain)
        assert report.get("upload") == {"monolithic": True, "chunked": None, "minChunk": 0}
        assert report.get("mount") is True
        probe.save(tmp_path, report)
        assert learned.learned_chunk_size(tmp_path, plain.host) == 0
    finally:
        plain.close()


def test_a_push_uses_what_a_check_learned(make_image, tmp_path):
    from leango.oci.sinks.layout import write_layout
    write_layout(tmp_path / "layout", make_image(), ["v1"])
    fake = FakeRegistry(Behaviour(monolithic=False))
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    try:
        def monolithic_puts():
            return [c for c in fake.calls if c.method == "PUT" and "/blobs/uploads/" in c.path and c.length > 0]
        copy = ["copy", f"oci:{tmp_path / 'layout'}:v1", f"{fake.host}/team/app:v1"]
        # Without a check: each blob's monolithic PUT is refused once, then it goes in chunks.
        before = leango(*copy, "-v", env=env)
        assert "refused a monolithic upload (HTTP 404): uploading in chunks" in before.stderr
        assert monolithic_puts() and ("team/app", "v1") in fake.manifests
        leango("registry", "check", f"{fake.host}/{REPO}", env=env)
        fake.calls.clear()
        fake.manifests.clear()
        fake.blobs.clear()
        leango(*copy, env=env)  # after it: chunks at once
        assert ("team/app", "v1") in fake.manifests
        assert monolithic_puts() == [] and any(c.method == "PATCH" and "/team/app/" in c.path for c in fake.calls)
    finally:
        fake.close()


def test_quay_grants_no_delete_scope_and_the_check_says_what_it_left(tmp_path):
    # Quay's token endpoint never grants delete (issue 20)
    auth = tmp_path / "auth.json"
    for no_delete in (True, False):
        fake = FakeRegistry(Behaviour(auth="bearer", no_delete_scope=no_delete))
        try:
            auth.write_text(json.dumps({"auths": {fake.host: {"auth": base64.b64encode(b"user:pass").decode()}}}))
            report = _check(fake, auth)
            assert (report.get("pull"), report.get("push")) == (True, True)
            assert report.get("delete") is (not no_delete)
            if no_delete:
                assert next(f.said for f in report.findings if f.key == "delete") == "not granted"
                assert sorted(x.split()[0] for x in report.left_behind) == ["blob", "blob", "manifest", "manifest",
                                                                            "manifest", "tag", "tag"]
                assert (REPO, "leango-check-1") in fake.manifests
            else:
                assert report.left_behind == [] and not [k for k in fake.manifests if k[0] == REPO]
        finally:
            fake.close()


ECR_MISSING = "does not exist, and the registry does not create repositories on push (as Amazon ECR)"
QUIRKS = {  # a mode of the fake registry → what the check must find (value, and words of what it says)
    "ecr-repositories": ({"repositories": ("team/other",)}, {"pull": True, "push": False}, ECR_MISSING),
    "ecr-media-type": ({"require_media_type": True}, {"push": True, "zstd_layers": True, "referrers_api": False}, ""),
    "manifest-limit": ({"manifest_limit": 1 << 20}, {"manifest_4mib": False, "zstd_layers": True}, "HTTP 413"),
    "hub-rate-limit": ({"rate_limited": 1},  # within _check's two attempts
                        {"push": True, "delete": True}, ""),
    "hub-denied": ({"deny_push": True}, {"pull": True, "push": False}, "the registry denied pushing"),
    "gcr-bare-401": ({"auth": "bearer", "bare_401": True, "pull_only_tokens": 1}, {"auth": "bearer", "push": True},
                     ""),
    "ghcr-range": ({"patch_range_zero": True, "monolithic": False},
                   {"upload": {"monolithic": False, "chunked": True, "minChunk": 0}}, ""),
    "quay-from": ({"mount_needs_from": True}, {"mount": True}, ""),
    "quay-415": ({"manifest_types": (mediatypes.DOCKER_MANIFEST,)}, {"push": True, "zstd_layers": None,
                                                                     "manifest_4mib": None}, "HTTP 415"),
    "quay-no-delete": ({"auth": "bearer", "no_delete_scope": True}, {"delete": False}, "not granted"),
    "harbor-unknown": ({"unknown_code": "UNKNOWN"}, {"referrers_api": False, "delete": True}, ""),
    "ecr-tag-pages": ({"tag_page": 1}, {"tag_paging": True}, ""),
    "artifactory-tags": ({"malformed_tags": True}, {"tag_paging": True}, ""),
    "gcr-mount": ({"mount_refused": 404}, {"mount": True}, ""),  # the probe's blob is in its from
    "no-mount": ({"mount": False}, {"mount": False}, "starts an upload instead"),
    "chunks-only": ({"monolithic": False, "chunk_min": 1024},
                    {"upload": {"monolithic": False, "chunked": True, "minChunk": 1024}}, "OCI-Chunk-Min-Length"),
}


@pytest.mark.parametrize("mode", sorted(QUIRKS))
def test_the_check_finds_what_each_quirk_mode_was_set_to(mode, tmp_path):
    behaviour, expected, words = QUIRKS[mode]
    fake = FakeRegistry(Behaviour(**behaviour))
    try:
        auth = tmp_path / "auth.json"
        auth.write_text(json.dumps({"auths": {fake.host: {"auth": base64.b64encode(b"user:pass").decode()}}}))
        report = _check(fake, auth)
        found = {f.key: f.value for f in report.findings}
        assert {k: found.get(k) for k in expected} == expected
        said = " ".join(f.said for f in report.findings if f.key in expected)
        assert words in said, said
        if found.get("delete"):
            assert report.left_behind == []
    finally:
        fake.close()
