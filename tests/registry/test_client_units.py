"""The registry client piece by piece against loopback servers: Docker Hub's API host, one
transport per host and credential with the command's options, credentials found per
repository, logins, tag pages, the referrers API's probe and filter, page bounds, fallback
tag updates."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from leango.oci import Digest, mediatypes
from leango.oci.blob import Blob
from leango.oci.descriptor import Descriptor
from leango.oci.errors import RegistryError
from leango.oci.manifest import Manifest
from leango.oci.referrers import fallback_tag, referrers_index
from leango.oci.registry import client as client_module
from leango.oci.registry.client import Registry, registry_host
from leango.oci.registry.credentials import ANONYMOUS, Credential, CredentialSources
from leango.oci.registry.transport import RegistryOptions
from support.clock import instant_retry
from support.fakeregistry import Behaviour, FakeRegistry
from support.httpserve import serve

SUBJECT = Digest.of_bytes(b"subject")


def _options() -> RegistryOptions:
    return RegistryOptions(retry=instant_retry(2))


def test_docker_hubs_api_host():
    assert registry_host("docker.io") == "registry-1.docker.io"
    assert registry_host("docker.io.example") == "docker.io.example"
    assert registry_host("127.0.0.1:5000") == "127.0.0.1:5000"


def test_transports_are_one_per_host_and_credential_with_the_commands_options():
    options = _options()
    with Registry(options=options) as client:
        alice, bob = Credential("alice", "a"), Credential("bob", "b")
        t = client.transport("docker.io", alice)
        assert t.host == "registry-1.docker.io" and t.auth.credential == alice and t.options is options
        assert client.transport("docker.io", alice) is t
        assert client.transport("docker.io", bob) is not t
    assert Registry().options == RegistryOptions()


def test_each_repository_gets_its_own_credential(tmp_path):
    auth = tmp_path / "auth.json"
    token = base64.b64encode(b"ci:s3cret").decode()
    auth.write_text(json.dumps({"auths": {"127.0.0.1:5000/team": {"auth": token}}}))
    with Registry(CredentialSources((auth,)), _options()) as client:
        team = client.repository("127.0.0.1:5000", "team/app")
        other = client.repository("127.0.0.1:5000", "other/app")
        assert team.t.auth.credential.username == "ci" and other.t.auth.credential == ANONYMOUS
        assert client.repository("127.0.0.1:5000", "team/app") is team
        assert str(team) == "127.0.0.1:5000/team/app" and team.registry == "127.0.0.1:5000"


def test_check_login_accepts_good_credentials_only():
    f = FakeRegistry(Behaviour(auth="basic"))
    try:
        with Registry(options=_options()) as client:
            client.check_login(f.host, Credential("user", "pass"))
            assert f.find("GET", "^/v2/$")
            with pytest.raises(RegistryError, match="authentication failed"):
                client.check_login(f.host, Credential("user", "nope"))
    finally:
        f.close()


@pytest.fixture
def server():
    """A registry whose answers the test sets: path → (status, content type, body, headers)."""
    state = {"routes": {}, "calls": []}

    def dispatch(h):
        state["calls"].append((h.command, h.path, dict(h.headers)))
        if h.path == "/v2/":
            status, ctype, body, headers = 200, "application/json", b"{}", {}
        else:
            key = h.path.split("?")[0]
            status, ctype, body, headers = state["routes"].get(key, (404, "application/json", b'{"errors":[]}', {}))
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    httpd = serve(dispatch)
    state["host"] = f"127.0.0.1:{httpd.server_address[1]}"
    yield state
    httpd.shutdown()
    httpd.server_close()


def _repo(server, name="r"):
    client = Registry(options=_options())
    return client, client.repository(server["host"], name)


def test_tags_ask_for_a_page_size_and_refuse_what_is_not_json(server):
    server["routes"]["/v2/r/tags/list"] = (200, "application/json", b'{"tags": ["a", "b", "a"]}', {})
    client, repo = _repo(server)
    with client:
        assert repo.tags(page_size=50) == ["a", "b"]
        assert server["calls"][-1][1] == "/v2/r/tags/list?n=50"
        assert server["calls"][-1][2]["Accept"] == "application/json"
        repo.tags()
        assert server["calls"][-1][1] == "/v2/r/tags/list"
        server["routes"]["/v2/r/tags/list"] = (200, "application/json", b"[1, 2]", {})
        assert repo.tags() == []
        server["routes"]["/v2/r/tags/list"] = (200, "application/json", b"<html>", {})
        with pytest.raises(RegistryError) as info:
            repo.tags()
    assert str(info.value).startswith(f"{server['host']}/r: the tag list is not JSON: ")
    assert info.value.transient is False


def test_pages_end_after_a_bound(server, monkeypatch):
    monkeypatch.setattr(client_module, "MAX_PAGES", 3)
    for page in range(5):
        server["routes"][f"/v2/r/tags/list{page}" if page else "/v2/r/tags/list"] = (
            200, "application/json", json.dumps({"tags": [f"t{page}"]}).encode(),
            {"Link": f'</v2/r/tags/list{page + 1}>; rel="next"'})
    client, repo = _repo(server)
    with client, pytest.raises(RegistryError) as info:
        repo.tags()
    assert str(info.value) == f"{server['host']}/r: more than 3 pages" and info.value.transient is False


@pytest.fixture
def no_link_server():
    """go-containerregistry's tag list: ?n= and ?last= honoured, no Link header ever."""
    tags, calls = ["a", "b", "c", "d", "e"], []

    def dispatch(h):
        calls.append(h.path)
        query = parse_qs(urlsplit(h.path).query)
        n, last = int(query.get("n", ["0"])[0]), query.get("last", [""])[0]
        after = [t for t in tags if t > last]
        body = b"{}" if h.path == "/v2/" else json.dumps({"tags": after[:n] if n else after}).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    httpd = serve(dispatch)
    yield f"127.0.0.1:{httpd.server_address[1]}", calls
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("size,asked", [
    (2, ["n=2", "n=2&last=b", "n=2&last=d"]),  # the last page is short: the end
    (1, ["n=1", "n=1&last=a", "n=1&last=b", "n=1&last=c", "n=1&last=d", "n=1&last=e"]),  # empty: the end
    (5, ["n=5", "n=5&last=e"]),
    (0, [""]),  # no size asked: the registry's one page
])
def test_tags_without_links_are_asked_for_after_the_last(no_link_server, size, asked):
    host, calls = no_link_server
    with Registry(options=_options()) as client:
        assert client.repository(host, "r").tags(page_size=size) == ["a", "b", "c", "d", "e"]
    assert [urlsplit(c).query for c in calls if "/tags/list" in c] == asked


def _referrer(artifact_type: str, text: str) -> tuple[bytes, Descriptor]:
    data = text.encode()
    m = Manifest(artifact_type, (Blob(Descriptor("application/vnd.test", Digest.of_bytes(data), len(data)),
                                      data=data),), subject=Descriptor(mediatypes.OCI_MANIFEST, SUBJECT, 7))
    return m.raw, m.descriptor


def test_a_referrers_list_that_is_no_index_says_whose_it_is(server):
    from leango.oci.errors import OciError
    broken = (200, mediatypes.OCI_INDEX, b'{"manifests": [{"mediaType": 7}]}', {})
    server["routes"][f"/v2/r/manifests/{fallback_tag(SUBJECT)}"] = broken
    client, repo = _repo(server)
    with client, pytest.raises(OciError) as info:  # no referrers API (404): the fallback tag
        repo.referrers(SUBJECT)
    assert str(info.value).startswith(f"the referrers list of {server['host']}/r:{fallback_tag(SUBJECT)} is not ")
    server["routes"][f"/v2/r/referrers/{SUBJECT}"] = broken
    client, repo = _repo(server)
    with client, pytest.raises(OciError) as info:  # the API's own list
        repo.referrers(SUBJECT)
    assert str(info.value).startswith(f"the referrers list of {server['host']}/r@{SUBJECT} is not an OCI index: ")


def test_the_referrers_api_is_probed_once_and_asked_for_a_type(server):
    _, sbom = _referrer("application/spdx+json", "a")
    _, sig = _referrer("application/vnd.test.sig", "b")
    listing = referrers_index([sbom, sig])
    server["routes"][f"/v2/r/referrers/{SUBJECT}"] = (200, mediatypes.OCI_INDEX, listing, {})
    client, repo = _repo(server)
    with client:
        assert repo.referrers_api(SUBJECT) is True
        probes = len(server["calls"])
        assert repo.referrers(SUBJECT) == [sbom, sig]
        # The registry ignores the filter here: the client filters too.
        assert repo.referrers(SUBJECT, "application/spdx+json") == [sbom]
        assert server["calls"][-1][1] == f"/v2/r/referrers/{SUBJECT}?artifactType=application%2Fspdx%2Bjson"
        assert all(c[2]["Accept"] == mediatypes.OCI_INDEX for c in server["calls"][probes - 1:] if "referrers" in c[1])
        assert sum(1 for c in server["calls"] if "referrers" in c[1]) == 3  # one probe, two listings


def test_a_200_that_is_not_an_index_is_no_referrers_api(server, caplog):
    import logging
    server["routes"][f"/v2/r/referrers/{SUBJECT}"] = (200, "text/html", b"<html>", {})
    client, repo = _repo(server)
    with client, caplog.at_level(logging.DEBUG, logger="leango.oci.registry.client"):
        assert repo.referrers_api(SUBJECT) is False
        assert repo.referrers(SUBJECT) == []  # the fallback tag, which is not there
    assert f"{server['host']}/r: referrers API absent" in caplog.messages
    server["routes"][f"/v2/r/referrers/{SUBJECT}"] = (200, mediatypes.OCI_INDEX + "; charset=utf-8",
                                                      referrers_index([]), {})
    client, repo = _repo(server)
    with client, caplog.at_level(logging.DEBUG, logger="leango.oci.registry.client"):
        assert repo.referrers_api(SUBJECT) is True
    assert f"{server['host']}/r: referrers API present" in caplog.messages


def test_listed_empty_types_are_read_to_learn_theirs(server):
    raw, desc = _referrer("application/spdx+json", "c")
    listed = Descriptor(desc.media_type, desc.digest, desc.size, artifact_type=mediatypes.OCI_EMPTY)
    untyped = Descriptor(desc.media_type, desc.digest, desc.size)
    for entry in (listed, untyped):
        server["routes"][f"/v2/r/referrers/{SUBJECT}"] = (200, mediatypes.OCI_INDEX, referrers_index([entry]), {})
        server["routes"][f"/v2/r/manifests/{desc.digest}"] = (200, mediatypes.OCI_MANIFEST, raw, {})
        client, repo = _repo(server)
        with client:
            assert [d.artifact_type for d in repo.referrers(SUBJECT)] == ["application/spdx+json"]


def test_the_fallback_tag_is_read_as_an_index(server):
    _, desc = _referrer("application/spdx+json", "d")
    server["routes"][f"/v2/r/manifests/{fallback_tag(SUBJECT)}"] = (200, mediatypes.OCI_INDEX,
                                                                      referrers_index([desc]), {})
    client, repo = _repo(server)
    with client:
        assert repo.referrers(SUBJECT, "application/spdx+json") == [desc]
        assert repo.referrers(SUBJECT, "application/other") == []
    fetch = [c for c in server["calls"] if "manifests" in c[1]][-1]
    assert fetch[2]["Accept"] == mediatypes.OCI_INDEX


def test_a_pushed_referrer_is_added_to_the_fallback_tag_once_keeping_the_others():
    f = FakeRegistry(Behaviour())
    try:
        subject = _subject()
        with Registry(options=_options()) as client:
            repo = client.repository(f.host, "team/app")
            repo.push(subject, ("v1",))
            first = _artifact_for(subject, "first")
            second = _artifact_for(subject, "second")
            repo.push(first)
            repo.push(second)
            repo.push(first)  # again: listed once
            listed = repo.referrers(subject.digest)
        assert [d.digest for d in listed] == [first.digest, second.digest]
        assert all(d.artifact_type == "application/vnd.test.ref" for d in listed)
    finally:
        f.close()


def _subject() -> Manifest:
    return Manifest("application/vnd.test.subject",
                    (Blob(Descriptor("application/vnd.test", Digest.of_bytes(b"s"), 1), data=b"s"),))


def _artifact_for(subject: Manifest, text: str) -> Manifest:
    data = text.encode()
    return Manifest("application/vnd.test.ref", (Blob(Descriptor("application/vnd.test", Digest.of_bytes(data),
                                                                 len(data)), data=data),), subject=subject.descriptor)


def test_push_mounts_from_where_it_is_told_and_reports_progress():
    f = FakeRegistry(Behaviour())
    try:
        data = b"shared layer"
        layer = Blob(Descriptor("application/vnd.test", Digest.of_bytes(data), len(data)), data=data)
        art = Manifest("application/vnd.test.a", (layer,))
        seen = []
        with Registry(options=_options()) as client:
            client.repository(f.host, "team/base").push(art, ("v1",))
            report = client.repository(f.host, "team/app").push(art, ("v1",), mount_from=("team/base",),
                                                                progress=lambda *a: seen.append(a))
        assert report.count("mounted") >= 1
        other = Manifest("application/vnd.test.b", (Blob(Descriptor("application/vnd.test", Digest.of_bytes(b"new"),
                                                                    3), data=b"new"),))
        with Registry(options=_options()) as client:
            client.repository(f.host, "team/app").push(other, ("v2",), progress=lambda *a: seen.append(a))
        assert seen and all(isinstance(s[1], int) for s in seen)
    finally:
        f.close()


def test_exists_and_mount_on_the_fake():
    f = FakeRegistry(Behaviour())
    try:
        data = b"blob"
        desc = Descriptor("application/vnd.test", Digest.of_bytes(data), len(data))
        f.blobs["team/base"] = {str(desc.digest): data}
        with Registry(options=_options()) as client:
            app = client.repository(f.host, "team/app")
            assert not app.exists(desc)
            assert app.mount(desc, "team/base") is True
            assert app.exists(desc)
            assert client.repository(f.host, "team/other").mount(
                Descriptor("application/vnd.test", Digest.of_bytes(b"none"), 4), "team/base") is False
    finally:
        f.close()


def test_a_fallback_tag_others_keep_rewriting_is_given_up_on(monkeypatch):
    f = FakeRegistry(Behaviour())
    monkeypatch.setattr(client_module, "FALLBACK_SETTLE", 0)
    try:
        subject = _subject()
        referrer = _artifact_for(subject, "lost")
        with Registry(options=_options()) as client:
            repo = client.repository(f.host, "team/app")
            repo.push(subject, ("v1",))
            monkeypatch.setattr(repo, "_fallback_entries", lambda tag: [])  # as if rewritten every time
            with pytest.raises(RegistryError) as info:
                repo.push(referrer)
        assert str(info.value) == (f"{f.host}/team/app: {referrer.digest} did not stay listed under the fallback "
                                   f"tag {fallback_tag(subject.digest)} after {client_module.FALLBACK_ATTEMPTS} "
                                   "writes: other clients keep rewriting it")
        assert info.value.transient is False
        assert len(f.find("PUT", f"/manifests/{fallback_tag(subject.digest)}$")) == client_module.FALLBACK_ATTEMPTS
    finally:
        f.close()


def test_a_lost_fallback_entry_is_written_again_after_a_settle(monkeypatch, caplog):
    import logging
    f = FakeRegistry(Behaviour())
    slept = []
    monkeypatch.setattr(client_module.time, "sleep", slept.append)
    try:
        subject = _subject()
        referrer = _artifact_for(subject, "kept")
        with Registry(options=_options()) as client:
            repo = client.repository(f.host, "team/app")
            repo.push(subject, ("v1",))
            real = repo._fallback_entries
            reads = [[], []]  # before the first write, and right after it: another client's index

            def entries(tag):
                return reads.pop(0) if reads else real(tag)
            monkeypatch.setattr(repo, "_fallback_entries", entries)
            with caplog.at_level(logging.INFO, logger="leango.oci.registry.client"):
                repo.push(referrer)
            assert [d.digest for d in real(fallback_tag(subject.digest))] == [referrer.digest]
        tag = fallback_tag(subject.digest)
        assert len(f.find("PUT", f"/manifests/{tag}$")) == 2
        assert caplog.messages.count(f"{f.host}/team/app: another client rewrote the fallback tag {tag}; "
                                     f"listing {referrer.digest} again") == 1
        settle = client_module.FALLBACK_SETTLE
        assert len(slept) == 2 and all(settle <= s < 2 * settle for s in slept)
    finally:
        f.close()


def test_open_blob_is_the_verified_blob_from_its_first_byte_and_nothing_else(server):
    data = b"the blob's bytes"
    good = Descriptor("application/octet-stream", Digest.of_bytes(data), len(data))
    server["routes"][f"/v2/r/blobs/{good.digest}"] = (200, "application/octet-stream", data, {})
    bad = Descriptor("application/octet-stream", Digest.of_bytes(b"other bytes!!!!!"), len(data))
    server["routes"][f"/v2/r/blobs/{bad.digest}"] = (200, "application/octet-stream", data, {})
    client, repo = _repo(server)
    with client:
        with repo.open_blob(good) as f:
            assert f.read() == data
            assert not f.closed
        with pytest.raises(Exception) as info:
            repo.open_blob(bad)
        assert str(bad.digest) in str(info.value)
