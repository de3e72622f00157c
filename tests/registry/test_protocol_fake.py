"""Protocol edge cases against an in-process fake of the distribution API."""

from __future__ import annotations

import hashlib
import logging

import pytest

from leango.oci import Index, Platform, mediatypes
from leango.oci.errors import RegistryError
from leango.oci.registry.credentials import Credential
from leango.oci.registry.push import Pusher
from leango.oci.registry.transport import RegistryOptions, Transport
from support.clock import instant_retry
from support.fakeregistry import Behaviour, FakeRegistry

CRED = Credential("user", "pass")


def _push(fake, img, repo="team/app", tags=("v1",), cred=CRED, **opts):
    options = RegistryOptions(**({"retry": instant_retry(5)} | opts))
    transport = Transport(fake.host, cred, options)
    return Pusher(transport, repo).push(img, tuple(tags)), transport


def _stored_ok(fake, img, repo="team/app"):
    for blob in img.blobs():
        data = fake.blobs[repo][str(blob.digest)]
        assert hashlib.sha256(data).hexdigest() == blob.digest.hex and len(data) == blob.size


@pytest.mark.parametrize("form", ["path", "relative", "absolute"])
def test_location_forms_keep_state_and_append_digest(fake, make_image, form):
    f = fake(location=form)
    img = make_image()
    _push(f, img)
    _stored_ok(f, img)
    for put in f.find("PUT", "/blobs/uploads/"):
        assert put.query["_state"] and put.query["digest"].startswith("sha256:")
        assert put.headers["Content-Type"] == "application/octet-stream"
        assert int(put.headers["Content-Length"]) == put.length


def test_cross_host_location_gets_no_authorization(fake, make_image):
    store = FakeRegistry(Behaviour(), hostname="localhost")  # another host name for the same machine
    try:
        main = FakeRegistry(Behaviour(location="elsewhere", auth="basic"), blob_store=store)
        store.blobs = main.blobs
        img = make_image()
        _push(main, img)
        assert store.find("PUT", "/blobs/uploads/"), "uploads did not go to the other host"
        assert all("Authorization" not in c.headers for c in store.calls)
        assert all("Authorization" in c.headers for c in main.find("POST"))
        _stored_ok(main, img)
        main.close()
    finally:
        store.close()


def test_location_at_metadata_address_is_refused(fake, make_image):
    f = fake(location="metadata")
    with pytest.raises(RegistryError, match="metadata address 169.254.169.254") as err:
        _push(f, make_image())
    assert err.value.attempts == 1, "a refused target is final, not retried"


def test_chunked_upload_respects_minimum_and_ranges(fake, make_image):
    f = fake(chunk_min=1 << 20)
    img = make_image()
    _push(f, img, chunk_size=256 << 10)
    _stored_ok(f, img)
    big = max(img.layers, key=lambda l: l.size)
    patches = [c for c in f.find("PATCH") if c.length]
    assert patches
    expected = 0
    by_upload: dict[str, list] = {}
    for c in patches:
        by_upload.setdefault(c.path, []).append(c)
    for calls in by_upload.values():
        expected = 0
        for c in calls:
            start, end = map(int, c.headers["Content-Range"].split("-"))
            assert start == expected and end - start + 1 == c.length == int(c.headers["Content-Length"])
            expected = end + 1
        assert all(c.length >= 1 << 20 for c in calls[:-1])
    assert sum(c.length for c in patches) >= big.size
    finals = f.find("PUT", "/blobs/uploads/")
    assert all(c.length == 0 and c.query["digest"].startswith("sha256:") for c in finals)


def test_416_recovers_from_registry_position(fake, make_image):
    f = fake(fail_patch_416=1)
    img = make_image()
    _push(f, img, chunk_size=256 << 10)
    _stored_ok(f, img)
    assert f.find("GET", "/blobs/uploads/"), "client did not ask for the upload status"
    assert len(f.find("POST", "/blobs/uploads/")) == len(list(img.blobs()))


def test_416_with_stuck_position_restarts_instead_of_looping(fake, make_image):
    f = fake(fail_patch_416=1, stuck_range=True)
    img = make_image()
    _push(f, img, chunk_size=256 << 10)
    _stored_ok(f, img)
    assert len(f.find("POST", "/blobs/uploads/")) == len(list(img.blobs())) + 1
    assert len(f.find("DELETE", "/blobs/uploads/")) == 1


def test_bearer_one_token_per_scope(fake, make_image):
    f = fake(auth="bearer")
    _push(f, make_image())
    assert len(f.token_requests) == 1
    [req] = f.token_requests
    assert req.query["service"] == "fake" and req.query["scope"] == "repository:team/app:pull,push"
    assert req.headers["Authorization"].startswith("Basic ")


def test_anonymous_token_request_has_no_authorization(fake, make_image):
    f = fake(auth="bearer")
    _push(f, make_image(), cred=Credential())
    assert "Authorization" not in f.token_requests[0].headers


def test_insufficient_scope_gets_a_new_token(fake, make_image):
    f = fake(auth="bearer", pull_only_tokens=1)
    _push(f, make_image(), concurrency=1)
    assert len(f.token_requests) == 2
    first, second = list(f.tokens)
    posts = [c.headers.get("Authorization") for c in f.calls if c.method == "POST"]
    # The pull-only token is refused once, then the new push token is used; never resent.
    assert posts[0] == f"Bearer {first}" and set(posts[1:]) == {f"Bearer {second}"}


def test_expired_token_is_refreshed_once(fake, make_image):
    f = fake(auth="bearer", token_uses=3)
    img = make_image()
    _push(f, img, concurrency=1)
    _stored_ok(f, img)
    assert len(f.token_requests) >= 2


def test_token_that_never_works_fails_cleanly(fake, make_image):
    f = fake(auth="bearer", token_uses=-1)
    with pytest.raises(RegistryError) as err:
        _push(f, make_image(), concurrency=1)
    assert "401" in str(err.value) and len(f.token_requests) <= 3


def test_identity_token_post_then_get_fallback(fake, make_image):
    f = fake(auth="bearer", refresh_post_404=True)
    _push(f, make_image(), cred=Credential(identity_token="refresh-me"))
    assert [r.method for r in f.token_requests[:2]] == ["POST", "GET"]


def test_basic_auth_and_missing_credentials(fake, make_image):
    f = fake(auth="basic")
    _push(f, make_image())
    assert all(c.headers.get("Authorization", "").startswith("Basic ") for c in f.find("PUT"))
    with pytest.raises(RegistryError, match="no credentials were found"):
        _push(fake(auth="basic"), make_image(), cred=Credential())


def test_realm_at_internal_address_is_refused(fake, make_image):
    f = fake(auth="bearer", realm="http://169.254.169.254/latest/meta-data")
    with pytest.raises(RegistryError, match="refusing token realm"):
        _push(f, make_image())


def test_warnings_shown_once(fake, make_image, caplog):
    f = fake(warning="this registry is read-only soon")
    with caplog.at_level(logging.WARNING):
        _push(f, make_image())
    shown = [r.getMessage() for r in caplog.records if "read-only soon" in r.getMessage()]
    assert shown == [f"registry {f.host}: this registry is read-only soon"]  # the text alone, once


def test_manifest_bytes_and_content_types(fake, make_image):
    f = fake()
    index = Index((make_image(), make_image(platform=Platform("linux", "arm64"))))
    _push(f, index)
    ctype, body = f.manifests[("team/app", "v1")]
    assert ctype == mediatypes.OCI_INDEX and body == index.index_bytes
    for img in index.manifests:
        ctype, body = f.manifests[("team/app", str(img.digest))]
        assert ctype == mediatypes.OCI_MANIFEST and body == img.manifest_bytes
    puts = [c.path for c in f.find("PUT", "/manifests/")]
    assert puts[-1].endswith("/manifests/v1")


def test_manifest_digest_mismatch_is_an_error(fake, make_image):
    with pytest.raises(RegistryError, match="stored manifest v1 as"):
        _push(fake(wrong_manifest_digest=True), make_image())


def test_mount_created_means_nothing_uploaded(fake, make_image):
    f = fake()
    img = make_image()
    _push(f, img, repo="source/app")
    before = len(f.find("PUT", "/blobs/uploads/"))
    transport = Transport(f.host, CRED, RegistryOptions())
    report = Pusher(transport, "target/app", mount_from=("source/app",)).push(img, ("v1",))
    assert {b.action for b in report.blobs} == {"mounted"}
    assert len(f.find("PUT", "/blobs/uploads/")) == before


def test_mount_refused_falls_back_to_upload(fake, make_image):
    f = fake(mount=False)
    img = make_image()
    _push(f, img, repo="source/app")
    transport = Transport(f.host, CRED, RegistryOptions())
    report = Pusher(transport, "target/app", mount_from=("source/app",)).push(img, ("v1",))
    assert {b.action for b in report.blobs} == {"uploaded"}
    _stored_ok(f, img, "target/app")


def test_debug_logs_carry_no_secrets(fake, make_image, caplog):
    """With the CLI's log handler filter (the library installs none: it changes no process state)."""
    from leango.builder.cli import _RedactQueries
    f = fake(auth="bearer", users={"user": "pass-Wo4d-xyz"})
    caplog.handler.addFilter(_RedactQueries())
    with caplog.at_level(logging.DEBUG):
        _push(f, make_image(), cred=Credential("user", "pass-Wo4d-xyz"))
    text = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    import base64
    assert "pass-Wo4d-xyz" not in text
    assert base64.b64encode(b"user:pass-Wo4d-xyz").decode() not in text
    for token in f.tokens:
        assert token not in text
    states = [c.query["_state"] for c in f.calls if "_state" in c.query]
    assert states and not any(s in text for s in states)


def test_interrupt_mid_upload_cancels_sessions_and_pushes_no_manifest(fake, make_image):
    """Checklist 17: on Ctrl-C the open upload sessions are DELETEd."""
    f = fake(chunk_min=0)
    img = make_image()

    def interrupt(digest, sent, total):
        if sent > 64 * 1024:
            raise KeyboardInterrupt
    transport = Transport(f.host, CRED, RegistryOptions(concurrency=2))
    with pytest.raises(KeyboardInterrupt):
        Pusher(transport, "team/app", progress=interrupt).push(img, ("v1",))
    assert f.find("DELETE", "/blobs/uploads/"), "the interrupted upload session was not cancelled"
    assert f.uploads == {}, "an upload session was left open"
    assert f.find("PUT", "/manifests/") == []


def test_mount_token_asks_for_pull_on_the_source(fake, make_image):
    f = fake(auth="bearer")
    img = make_image()
    _push(f, img, repo="source/app")
    transport = Transport(f.host, CRED, RegistryOptions())
    Pusher(transport, "target/app", mount_from=("source/app",)).push(img, ("v1",))
    scopes = [r.query.get("scope") for r in f.token_requests]
    assert ["repository:target/app:pull,push", "repository:source/app:pull"] in scopes


def test_an_injected_session_carries_every_request_and_close_releases_it(fake, make_image):
    """The transport's seam: a caller's requests.Session (here one that counts) is used as is."""
    import requests

    class Counting(requests.Session):
        def __init__(self):
            super().__init__()
            self.sent, self.closed = [], False

        def request(self, method, url, **kw):
            self.sent.append((method, url))
            return super().request(method, url, **kw)

        def close(self):
            self.closed = True
            super().close()

    f = fake()
    session = Counting()
    transport = Transport(f.host, Credential(), RegistryOptions(retry=instant_retry(2)), session=session)
    Pusher(transport, "team/app").push(make_image(), ("v1",))
    transport.close()
    # every request the fake saw came through the session (plus the https probe it could not answer)
    assert session.sent[0] == ("GET", f"https://{f.host}/v2/")
    assert session.closed and len(session.sent[1:]) == len(f.calls) > 0
    assert session.headers["User-Agent"].startswith("leango/")
