"""The blob uploader piece by piece against the in-process fake: what each outcome reports, the
requests it sends, the sessions it opens and closes, and how it recovers from (or gives up on) 416."""

from __future__ import annotations

import hashlib
import io
import logging
import threading

import pytest

from leango.oci import mediatypes
from leango.oci.blob import Blob
from leango.oci.descriptor import Descriptor
from leango.oci.digest import Digest
from leango.oci.errors import RegistryError
from leango.oci.registry.credentials import Credential
from leango.oci.registry.transport import Cancelled, RegistryOptions, Transport
from leango.oci.registry.upload import BlobOutcome, BlobUploader, BodyReader, with_digest
from support.clock import instant_retry
from support.fakeregistry import Behaviour, FakeRegistry

REPO = "team/app"


def _blob(data: bytes) -> Blob:
    return Blob(Descriptor(mediatypes.OCI_LAYER_GZIP, Digest.of_bytes(data), len(data)), data=data)


def _uploader(f, progress=None, chunk_size=0, attempts=3, cancel=None):
    t = Transport(f.host, Credential("user", "pass"), RegistryOptions(retry=instant_retry(attempts)))
    return BlobUploader(t, REPO, cancel=cancel or threading.Event(), progress=progress, chunk_size=chunk_size)


def test_body_reader_reads_what_is_left_and_reports_progress():
    seen = []
    r = BodyReader(io.BytesIO(b"0123456789"), 6, "sha256:d", lambda *a: seen.append(a), threading.Event())
    assert len(r) == 6
    assert r.read(4) == b"0123" and len(r) == 2
    assert r.read(0) == b"" and r.read(-1) == b"45" and r.read() == b"" and r.read(None) == b""
    assert len(r) == 0
    assert seen == [("sha256:d", 4, 6), ("sha256:d", 6, 6)]  # nothing reported for empty reads


def test_body_reader_of_a_chunk_counts_from_its_offset():
    seen = []
    src = io.BytesIO(b"0123456789")
    src.seek(4)
    r = BodyReader(src, 3, "sha256:d", lambda *a: seen.append(a), threading.Event(), start=4, total=10)
    assert r.read(100) == b"456"
    assert seen == [("sha256:d", 7, 10)]
    plain = BodyReader(io.BytesIO(b"ab"), 2, "sha256:d", lambda *a: seen.append(a), threading.Event(), start=3)
    assert plain.read(None) == b"ab" and seen[-1] == ("sha256:d", 5, 5)  # total: start + length


def test_body_reader_stops_when_cancelled_and_closes_its_source():
    cancel = threading.Event()
    src = io.BytesIO(b"abc")
    r = BodyReader(src, 3, "sha256:d", None, cancel)
    assert r.read(1) == b"a"
    cancel.set()
    with pytest.raises(Cancelled, match="^upload cancelled$"):
        r.read(1)
    r.close()
    assert src.closed


def test_with_digest_keeps_the_query_and_escapes_the_digest():
    assert with_digest("http://r/u", "sha256:ab") == "http://r/u?digest=sha256%3Aab"
    assert with_digest("/u?_state=x%2Fy", "sha256:ab") == "/u?_state=x%2Fy&digest=sha256%3Aab"
    assert with_digest("/u?", "sha256:ab") == "/u??digest=sha256%3Aab"  # an empty query is no query


def test_each_outcome_names_the_blob_and_how_it_got_there(fake):
    f = fake()
    up = _uploader(f)
    blob = _blob(b"layer one")
    assert up.push(blob) == BlobOutcome(str(blob.digest), blob.size, "uploaded")
    assert f.blobs[REPO][str(blob.digest)] == b"layer one"
    assert up.push(blob) == BlobOutcome(str(blob.digest), blob.size, "exists")
    other = _uploader(f)
    other.repo, other.scopes = "team/other", ("repository:team/other:pull,push",)
    assert other.push(blob, mount_from=("team/nothing", REPO)) == BlobOutcome(str(blob.digest), blob.size, "mounted")
    assert f.blobs["team/other"][str(blob.digest)] == b"layer one"


def test_a_refused_mount_cancels_its_session_and_uploads(fake):
    f = fake(mount=False)
    up = _uploader(f)
    blob = _blob(b"layer two")
    assert up.push(blob, mount_from=("team/base",)).action == "uploaded"
    deletes = f.find("DELETE")
    assert len(deletes) == 1 and "/blobs/uploads/" in deletes[0].path
    mount = f.find("POST", "/blobs/uploads/")[0]
    assert mount.query == {"mount": str(blob.digest), "from": "team/base"}
    assert not f.uploads and not up._open


def test_the_monolithic_put_and_the_chunked_patches(fake):
    f = fake()
    data = bytes(range(256)) * 10
    blob = _blob(data)
    _uploader(f).push(blob)
    put = f.find("PUT", "/blobs/uploads/")[-1]
    assert put.headers["Content-Type"] == "application/octet-stream"
    assert put.headers["Content-Length"] == str(len(data)) and put.query["digest"] == str(blob.digest)
    g = fake()
    seen = []
    _uploader(g, progress=lambda *a: seen.append(a), chunk_size=1000).push(blob)
    patches = g.find("PATCH")
    assert [p.headers["Content-Range"] for p in patches] == ["0-999", "1000-1999", "2000-2559"]
    assert [p.headers["Content-Length"] for p in patches] == ["1000", "1000", "560"]
    assert all(p.headers["Content-Type"] == "application/octet-stream" for p in patches)
    final = g.find("PUT")[-1]
    assert final.length == 0 and final.headers["Content-Length"] == "0" and final.query["digest"] == str(blob.digest)
    assert g.blobs[REPO][str(blob.digest)] == data
    assert seen[-1] == (str(blob.digest), len(data), len(data)) and all(s[2] == len(data) for s in seen)


def test_the_registrys_chunk_minimum_wins(fake):
    f = fake(chunk_min=1500)
    up = _uploader(f, chunk_size=1000)
    blob = _blob(b"x" * 2600)
    up.push(blob)
    assert up.min_chunk == 1500
    assert [p.headers["Content-Range"] for p in f.find("PATCH")] == ["0-1499", "1500-2599"]


def test_a_416_resumes_where_the_registry_is(fake):
    f = fake(fail_patch_416=1)
    blob = _blob(b"y" * 3000)
    _uploader(f, chunk_size=1000).push(blob)
    assert f.blobs[REPO][str(blob.digest)] == blob.data
    ranges = [p.headers["Content-Range"] for p in f.find("PATCH")]
    assert ranges == ["0-999", "1000-1999", "1500-2499", "2500-2999"]  # the second was half taken
    assert len(f.find("GET", "/blobs/uploads/")) == 1


def test_too_many_416_or_a_stuck_position_restarts_then_fails(fake, caplog):
    f = fake(fail_patch_416=100)
    up = _uploader(f, chunk_size=1000, attempts=2)
    with pytest.raises(RegistryError, match="too many HTTP 416 answers") as info:
        up._chunked(_blob(b"z" * 2000), up._start())
    assert info.value.status == 416 and info.value.transient is True
    assert len(f.find("GET", "/blobs/uploads/")) == 2  # max_attempts recoveries, never a loop
    g = fake(fail_patch_416=100, stuck_range=True)
    up = _uploader(g, chunk_size=1000, attempts=2)
    with pytest.raises(RegistryError, match="upload position stuck at 1000 after HTTP 416") as info:
        up._chunked(_blob(b"z" * 2000), up._start())
    assert info.value.status == 416 and info.value.transient is True


def test_abort_deletes_every_open_session(fake):
    f = fake()
    up = _uploader(f)
    first, second = up._start(), up._start()
    assert up._open == {first, second} and len(f.uploads) == 2
    up.abort_open_sessions()
    assert not up._open and not f.uploads
    assert len(f.find("DELETE")) == 2
    up.abort_open_sessions()  # nothing left: nothing sent
    assert len(f.find("DELETE")) == 2


def test_a_failed_upload_cancels_its_session(fake):
    f = fake()
    up = _uploader(f, attempts=1)
    bad = Blob(Descriptor(mediatypes.OCI_LAYER_GZIP, Digest.of_bytes(b"other"), 5), data=b"wrong")
    with pytest.raises(RegistryError, match="DIGEST_INVALID|400"):
        up.push(bad)
    assert not up._open and len(f.find("DELETE")) == 1


def test_no_new_session_after_cancel(fake):
    f = fake()
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled, match="^upload cancelled$"):
        _uploader(f, cancel=cancel)._upload_with_retries(_blob(b"a"))
    assert not f.find("POST")


def test_an_upload_the_registry_then_does_not_hold_is_an_error(fake, monkeypatch):
    f = fake()
    up = _uploader(f)
    blob = _blob(b"vanishing")
    monkeypatch.setattr(up, "_upload_with_retries", lambda b: None)
    with pytest.raises(RegistryError, match=f"^registry does not hold {blob.digest} after uploading it$"):
        up.push(blob)


def test_a_session_without_location_or_with_a_bad_one(fake, monkeypatch):
    f = fake()
    up = _uploader(f)
    up._start()  # the transport knows its registry's scheme

    class Resp:
        def __init__(self, headers):
            self.headers = headers
    url = f"http://user:secret@{f.host}/v2/{REPO}/blobs/uploads/"
    with pytest.raises(RegistryError) as info:
        up._location(url, Resp({}))
    assert str(info.value) == f"POST http://{f.host}/v2/{REPO}/blobs/uploads/ returned no Location header"
    with pytest.raises(RegistryError, match="malformed Location 'http://\\[x'") as info:
        up._location(url, Resp({"Location": "http://[x"}))
    assert info.value.transient is False
    with pytest.raises(RegistryError, match="upload location"):
        up._location(url, Resp({"Location": "http://169.254.169.254/v2/x"}))
    plain = f"http://{f.host}/v2/{REPO}/blobs/uploads/"
    assert up._location(plain, Resp({"Location": "u1?_state=s"})) == plain + "u1?_state=s"
    assert up._location(plain, Resp({"Location": "/v2/x/u2"})) == f"http://{f.host}/v2/x/u2"


def test_a_failed_delete_is_only_logged(fake, caplog, monkeypatch):
    f = fake()
    up = _uploader(f)
    location = up._start()
    sent = []

    def refuse(method, url, **kw):
        sent.append((method, url, kw["scopes"], kw["retry"]))
        raise RegistryError("gone away")
    monkeypatch.setattr(up.t, "request", refuse)
    with caplog.at_level(logging.DEBUG, logger="leango.oci.registry.upload"):
        up._delete(location)
    assert "could not cancel upload session: gone away" in caplog.text
    assert location not in up._open
    assert sent == [("DELETE", location, (f"repository:{REPO}:pull,push",), False)]  # one try: best effort


def test_exists_checks_the_size(fake):
    f = fake()
    up = _uploader(f)
    blob = _blob(b"twelve bytes")
    assert not up.exists(blob)
    f.blobs[REPO] = {str(blob.digest): b"short"}
    with pytest.raises(RegistryError, match=f"holds {blob.digest} with size 5, expected 12"):
        up.exists(blob)
    f.blobs[REPO] = {str(blob.digest): b"twelve bytes"}
    assert up.exists(blob)
    assert hashlib.sha256(b"twelve bytes").hexdigest() == blob.digest.hex


class _Answer:
    """What the registry answers a GET of an upload session."""

    def __init__(self, headers):
        import requests
        self.headers = requests.structures.CaseInsensitiveDict(headers)
        self.status_code = 204

    def close(self):
        pass


@pytest.mark.parametrize("headers,offset,expected", [
    ({"Range": "0-1499"}, 1000, 1500),  # it holds more than was confirmed: go on from there
    ({"Range": "0-499"}, 1000, 500),  # less: send again from there
    ({"Range": "0-2999"}, 1000, 3000),  # all of it (the blob's size): only the closing PUT is left
    ({}, 1000, 0),  # no Range: start over
    ({"Range": "0-"}, 1000, 0),
    ({"Range": "0-9-9"}, 1000, 0),  # malformed: start over
])
def test_the_resume_point_is_where_the_registry_is(fake, headers, offset, expected):
    up = _uploader(fake())
    up.t.request = lambda *a, **kw: _Answer(headers)
    assert up._resume_point("http://r/u?s=1", offset, 3000) == (expected, "http://r/u?s=1")


@pytest.mark.parametrize("headers,offset", [({"Range": "0-999"}, 1000), ({"Range": "0-3000"}, 1000), ({}, 0)])
def test_a_resume_point_that_did_not_move_or_is_past_the_end_restarts(fake, headers, offset):
    up = _uploader(fake())
    up.t.request = lambda *a, **kw: _Answer(headers)
    with pytest.raises(RegistryError) as info:
        up._resume_point("http://r/u", offset, 3000)
    assert str(info.value).startswith("upload position stuck at ") and info.value.status == 416


def test_a_new_location_after_a_416_is_followed(fake):
    f = fake()
    up = _uploader(f)
    up._start()  # the transport knows its registry
    up.t.request = lambda *a, **kw: _Answer({"Range": "0-9", "Location": "u2?_state=b"})
    base = f"http://{f.host}/v2/{REPO}/blobs/uploads/u1?_state=a"
    assert up._resume_point(base, 0, 100) == (10, f"http://{f.host}/v2/{REPO}/blobs/uploads/u2?_state=b")


@pytest.mark.parametrize("status,logged", [(204, False), (200, False), (202, False), (404, False), (405, True)])
def test_a_cancelled_session_is_done_on_any_success_or_404(fake, status, logged, caplog):
    class Answering(FakeRegistry):
        def _blob(self, h, call, repo, rest, body):
            if call.method == "DELETE":
                return self._send(h, status)
            return super()._blob(h, call, repo, rest, body)
    f = Answering(Behaviour())
    try:
        up = _uploader(f)
        location = up._start()
        with caplog.at_level(logging.DEBUG, logger="leango.oci.registry.upload"):
            up._delete(location)
        said = [m for m in caplog.messages if m.startswith("could not cancel upload session: ")]
        assert bool(said) is logged and len(f.find("DELETE")) == 1  # never retried
    finally:
        f.close()


def test_too_many_416_is_said_exactly(fake):
    up = _uploader(fake(fail_patch_416=100), chunk_size=1000, attempts=1)
    with pytest.raises(RegistryError) as info:
        up._chunked(_blob(b"z" * 2000), up._start())
    assert str(info.value) == "too many HTTP 416 answers; restarting the upload"


def test_skip_seeks_a_file_and_reads_past_a_stream():
    import io

    from leango.oci.registry.upload import skip

    class Stream:  # no seek: a blob verified as it streams from another registry or an archive
        def __init__(self, data):
            self._f = io.BytesIO(data)
            self.reads = 0

        def read(self, n=-1):
            self.reads += 1
            return self._f.read(n)
    f = io.BytesIO(b"0123456789")
    skip(f, 4)
    assert f.read() == b"456789"
    one = Stream(b"0123456789")
    skip(one, 4)
    assert one.read() == b"456789"  # to the byte: not one short
    s = Stream(b"0123456789" * 300000)  # 3 MB: read past in bounded pieces
    skip(s, 2_500_000)
    assert s.read(3) == b"012" and s.reads == 3 + 1
    short = Stream(b"abc")
    with pytest.raises(RegistryError) as info:
        skip(short, 5)
    assert str(info.value) == "the blob ended 2 bytes before offset 5"
    assert info.value.transient is False  # the same source ends early again: final


@pytest.mark.parametrize("status", [404, 405])
def test_a_refused_monolithic_put_goes_on_in_chunks_in_a_new_session(fake, caplog, status):
    from leango.oci.registry.upload import FALLBACK_CHUNK
    f = fake(monolithic=False, monolithic_refusal=status, chunk_min=64)
    up = _uploader(f)
    first, second = _blob(b"a" * 300), _blob(b"b" * 200)
    with caplog.at_level(logging.INFO):
        assert up.push(first).action == "uploaded"
    assert f.blobs[REPO][str(first.digest)] == b"a" * 300
    refused = [c for c in f.find("PUT", "/blobs/uploads/") if c.length > 0]
    assert len(refused) == 1  # one monolithic try, then chunks
    assert up.chunk_size == FALLBACK_CHUNK and len(f.find("DELETE")) == 1  # the refused session cancelled
    assert f"{f.host}/{REPO} refused a monolithic upload (HTTP {status}): uploading in chunks of {FALLBACK_CHUNK} bytes" \
        in caplog.text
    up.push(second)  # the next blob goes in chunks at once
    assert len([c for c in f.find("PUT", "/blobs/uploads/") if c.length > 0]) == 1
    assert f.blobs[REPO][str(second.digest)] == b"b" * 200 and f.uploads == {}


def test_only_404_and_405_make_chunks_of_a_monolithic_upload(fake):
    f = fake()
    up = _uploader(f, attempts=1)
    bad = Blob(Descriptor(mediatypes.OCI_LAYER_GZIP, Digest.of_bytes(b"other"), 4), data=b"data")
    with pytest.raises(RegistryError) as info:  # 400 DIGEST_INVALID: not a refusal of the method
        up.push(bad)
    assert info.value.status == 400 and up.chunk_size == 0 and f.find("PATCH") == []


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405])
def test_a_mount_answered_with_an_error_falls_back_to_an_upload(fake, status):
    # GCR/GAR answer 404 for a blob not in `from`, Docker Hub 401/403 for a source the account
    # may not read, Quay 400: a mount is only a shortcut, so the blob is uploaded instead
    f = fake(mount_refused=status)
    up = _uploader(f, attempts=1)
    blob = _blob(b"layer refused")
    assert up.push(blob, mount_from=("team/base",)) == BlobOutcome(str(blob.digest), blob.size, "uploaded")
    assert f.blobs[REPO][str(blob.digest)] == b"layer refused" and not f.uploads


def test_a_mount_failing_for_another_reason_fails_the_push(fake):
    f = fake(mount_refused=500)
    up = _uploader(f, attempts=1)
    with pytest.raises(RegistryError) as info:
        up.push(_blob(b"layer lost"), mount_from=("team/base",))
    assert info.value.status == 500 and not f.blobs.get(REPO) and not f.find("PUT")


def test_a_denied_upload_session_names_the_repository(fake):
    f = fake(deny_push=True)
    with pytest.raises(RegistryError) as info:
        _uploader(f, attempts=1).push(_blob(b"layer denied"))
    assert str(info.value).startswith(f"the registry denied pushing to {f.host}/{REPO} (DENIED: ")
    assert info.value.status == 403 and info.value.transient is False
