"""The one registry client: tags paged by Link, referrers by the API or the fallback tag (probed
once), blob existence and mount, against real registries; Link edge cases against a loopback
server that misbehaves on purpose."""

from __future__ import annotations

import json

import pytest

from leango.oci import Digest, mediatypes
from leango.oci.blob import Blob
from leango.oci.descriptor import Descriptor
from leango.oci.errors import RegistryError
from leango.oci.manifest import Manifest
from leango.oci.referrers import fallback_tag
from leango.oci.registry.client import Registry
from leango.oci.registry.transport import RegistryOptions
from support.clock import instant_retry
from support.httpserve import serve


def _artifact(text: str, subject: Manifest | None = None, artifact_type: str = "application/vnd.test.a") -> Manifest:
    data = text.encode()
    blob = Blob(Descriptor("application/vnd.test.file", Digest.of_bytes(data), len(data)), data=data)
    return Manifest(artifact_type, (blob,), subject=subject.descriptor if subject else None)


def _client() -> Registry:
    return Registry(options=RegistryOptions(retry=instant_retry(2)))


def test_tags_of_a_registry_that_ignores_n(registry):
    with _client() as client:
        repo = client.repository(registry.host, "client/tags")
        art = _artifact("tags")
        names = [f"t{i}" for i in range(7)]
        repo.push(art, tuple(names))
        assert sorted(repo.tags(page_size=2)) == names  # 2.8 ignores ?n=: one whole page (test_every_registry pages)
        assert sorted(repo.tags()) == names


def test_referrers_through_the_api_or_the_fallback_tag(any_registry):
    with _client() as client:
        repo = client.repository(any_registry.host, "client/refs")
        subject = _artifact("subject")
        repo.push(subject, ("v1",))
        assert repo.referrers(subject.digest) == []
        sbom = _artifact("sbom", subject, "application/spdx+json")
        sig = _artifact("sig", subject, "application/vnd.test.sig")
        repo.push(sbom)
        repo.push(sig)
        repo.push(sig)  # pushed twice, listed once
        found = repo.referrers(subject.digest)
        assert sorted(d.digest for d in found) == sorted([sbom.digest, sig.digest])
        assert {d.artifact_type for d in found} >= {"application/vnd.test.sig"}
        assert [d.digest for d in repo.referrers(subject.digest, "application/vnd.test.sig")] == [sig.digest]
        assert repo.referrers_api(subject.digest) is any_registry.referrers_api
        assert (fallback_tag(subject.digest) in repo.tags()) is (not any_registry.referrers_api)


def test_a_fresh_client_reads_referrers_another_wrote(any_registry):
    """What one client listed (by API or fallback tag) the next one finds, probing for itself."""
    subject = _artifact("fresh subject")
    sbom = _artifact("fresh sbom", subject, "application/spdx+json")
    with _client() as client:
        client.repository(any_registry.host, "client/fresh").push(subject, ("v1",))
        client.repository(any_registry.host, "client/fresh").push(sbom)
    with _client() as client:
        assert [d.digest for d in client.repository(any_registry.host, "client/fresh").referrers(subject.digest)] \
            == [sbom.digest]


def test_exists_and_mount(registry):
    with _client() as client:
        a = client.repository(registry.host, "client/a")
        b = client.repository(registry.host, "client/b")
        art = _artifact("mount me")
        blob = next(iter(art.blobs()))
        assert not a.exists(blob.descriptor)
        a.push(art, ("v1",))
        assert a.exists(blob.descriptor)
        assert not b.exists(blob.descriptor)
        assert b.mount(blob.descriptor, "client/a")
        assert b.exists(blob.descriptor)
        missing = Descriptor("application/octet-stream", Digest.of_bytes(b"nowhere"), 7)
        assert not b.mount(missing, "client/a")  # refused: its upload session is cancelled
        assert not b.exists(missing)


def test_one_transport_per_host_and_credential(registry):
    with _client() as client:
        a = client.repository(registry.host, "one/a")
        assert client.repository(registry.host, "one/a") is a
        assert client.repository(registry.host, "one/b").t is a.t  # same host, same (anonymous) credential
    assert client._transports == {}  # closed once, all of them


@pytest.fixture
def link_server():
    """/v2/r/tags/list answers with the Link the test sets."""
    state = {"links": {}, "calls": []}

    def dispatch(h):
        state["calls"].append(h.path)
        if h.path == "/v2/":
            body = b"{}"
            h.send_response(200)
        else:
            page = h.path.rsplit("page=", 1)[-1] if "page=" in h.path else "0"
            body = json.dumps({"name": "r", "tags": [f"t{page}", 7, ""]}).encode()
            h.send_response(200)
            if page in state["links"]:
                h.send_header("Link", state["links"][page])
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    server = serve(dispatch)
    state["host"] = f"127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def test_link_pages_end_loops_fail_and_other_hosts_are_refused(link_server):
    host = link_server["host"]
    link_server["links"] = {"0": '</v2/r/tags/list?page=1>; rel="next"', "1": '</v2/r/tags/list?page=2>; rel="next"'}
    with _client() as client:
        assert client.repository(host, "r").tags() == ["t0", "t1", "t2"]  # malformed entries left out
    link_server["links"]["2"] = '</v2/r/tags/list?page=1>; rel="next"'
    with _client() as client, pytest.raises(RegistryError, match="loop back") as loop:
        client.repository(host, "r").tags()
    assert loop.value.transient is False and loop.value.attempts == 1
    link_server["links"] = {"0": '<http://169.254.169.254/v2/r/tags/list?page=1>; rel="next"'}
    with _client() as client, pytest.raises(RegistryError, match="Link header"):
        client.repository(host, "r").tags()
    assert not any("169.254" in c for c in link_server["calls"])


def test_registry_without_api_answers_404_so_fallback_is_used(registry):
    """Debian's distribution 2.8 has no referrers API: the probe says so, and the fallback
    tag's index is an OCI index listing the referrer with its artifactType."""
    with _client() as client:
        repo = client.repository(registry.host, "client/fallback")
        subject = _artifact("fb subject")
        repo.push(subject, ("v1",))
        sbom = _artifact("fb sbom", subject, "application/spdx+json")
        repo.push(sbom)
        assert not repo.referrers_api(subject.digest)
        listed = json.loads(repo.manifest(fallback_tag(subject.digest), accept=(mediatypes.OCI_INDEX,)).raw)
        assert listed["mediaType"] == mediatypes.OCI_INDEX
        assert [(m["digest"], m["artifactType"]) for m in listed["manifests"]] == \
            [(str(sbom.digest), "application/spdx+json")]


def test_a_page_size_is_asked_for_and_none_is_not(link_server):
    host = link_server["host"]
    with _client() as client:
        repo = client.repository(host, "r")
        repo.tags(page_size=1)
        repo.tags()
    listed = [c for c in link_server["calls"] if "/tags/list" in c]
    # page_size=1: one tag per page asked, a full page of one, so the next asked by ?last=; then whole
    assert listed[0] == "/v2/r/tags/list?n=1" and listed[-1] == "/v2/r/tags/list"
