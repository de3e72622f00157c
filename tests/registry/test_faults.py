"""Failures survived the way trusted clients survive them (retries, timeouts, resets, truncations).

A fault-injecting proxy sits in front of the real registry; the content is
always verified afterwards by copying the image back out with skopeo.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from leango.oci.errors import RegistryError
from leango.oci.registry.transport import RegistryOptions
from support.clock import instant_retry
from support.faultproxy import Fault
from support.ocicheck import check_layout
from support.tools import require, run


def _verify(host, repo, img, tmp_path):
    require("skopeo")
    dest = tmp_path / f"back-{repo.replace('/', '-')}"
    run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{host}/{repo}:v1", f"oci:{dest}:x"])
    assert [str(d) for d in check_layout(dest).manifests] == [str(img.digest)]


def _big_layer(img):
    return max(img.layers, key=lambda l: l.size).digest.hex


@pytest.mark.parametrize("statuses", [[429, 429], [500, 502, 503], [408, 504]])
def test_transient_statuses_on_blob_put(statuses, proxy, registry, make_image, do_push, fast_options, tmp_path):
    img = make_image("t")
    repo = f"faults/status{''.join(map(str, statuses))}"
    for status in statuses:
        headers = {"Retry-After": "1"} if status == 429 else {}
        proxy.add(Fault("PUT", f"digest=sha256%3A{_big_layer(img)}", "status", status, headers))
    [res] = do_push(img, [f"{proxy.host}/{repo}:v1"], options=fast_options)
    waits = fast_options.retry.sleep
    assert len(waits) == len(statuses)
    if statuses == [429, 429]:
        assert waits == [1.0, 1.0], "Retry-After: 1 was not honoured twice"
    else:
        assert all(w <= fast_options.retry.backoff_max for w in waits)
    assert res.reference.digest == img.digest
    puts = proxy.requests("PUT", f"digest=sha256%3A{_big_layer(img)}")
    assert len(puts) == len(statuses) + 1
    # Every abandoned upload session was cancelled: one DELETE per failed attempt.
    assert len(proxy.requests("DELETE", "/blobs/uploads/")) == len(statuses)
    _verify(registry.host, repo, img, tmp_path)


def test_connection_reset_mid_body(proxy, registry, make_image, do_push, fast_options, tmp_path):
    img = make_image("r")
    proxy.add(Fault("PUT", f"digest=sha256%3A{_big_layer(img)}", "reset", times=2))
    do_push(img, [f"{proxy.host}/faults/reset:v1"], options=fast_options)
    assert len(proxy.requests("PUT", _big_layer(img))) == 3
    _verify(registry.host, "faults/reset", img, tmp_path)


def test_stalled_response_times_out_and_recovers(proxy, registry, make_image, do_push, tmp_path):
    img = make_image("s")
    options = RegistryOptions(read_timeout=1, connect_timeout=1, retry=instant_retry(3))
    proxy.add(Fault("HEAD", "/blobs/sha256:", "stall", stall=60))
    do_push(img, [f"{proxy.host}/faults/stall:v1"], options=options)
    [stalled] = [s for s in proxy.seen if s.fault == "stall"]
    again = [s for s in proxy.requests("HEAD", stalled.path) if s is not stalled]
    # The client gave up on the stalled HEAD (read timeout) and asked again while it still stalled.
    assert again and (stalled.ended == 0.0 or again[0].at < stalled.ended)
    _verify(registry.host, "faults/stall", img, tmp_path)


def test_persistent_failure_is_bounded_and_pushes_no_manifest(proxy, make_image, do_push, fast_options):
    img = make_image("p")
    proxy.add(Fault("PUT", f"digest=sha256%3A{_big_layer(img)}", "status", 503, times=-1,
                    body=b'{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}'))
    with pytest.raises(RegistryError) as err:
        do_push(img, [f"{proxy.host}/faults/persistent:v1"], options=fast_options)
    attempts = fast_options.retry.max_attempts
    assert len(proxy.requests("PUT", f"digest=sha256%3A{_big_layer(img)}")) == attempts  # bounded
    assert len(fast_options.retry.sleep) == attempts - 1 and err.value.attempts == attempts
    assert "503" in str(err.value) and "UNAVAILABLE" in str(err.value)
    assert proxy.requests("PUT", "/manifests/") == []


@pytest.mark.parametrize("method,path,status,code", [
    ("PUT", "digest=", 400, "DIGEST_INVALID"),
    ("POST", "/blobs/uploads/", 403, "DENIED"),
    ("PUT", "/manifests/", 400, "MANIFEST_INVALID"),
    ("HEAD", "/blobs/sha256:", 401, ""),
])
def test_client_errors_fail_fast(method, path, status, code, proxy, make_image, do_push, fast_options):
    img = make_image("c")
    body = f'{{"errors":[{{"code":"{code}","message":"nope: {code.lower()}"}}]}}'.encode() if code else b""
    proxy.add(Fault(method, path, "status", status, body=body, times=-1))
    with pytest.raises(RegistryError) as err:
        do_push(img, [f"{proxy.host}/faults/client{status}{code.lower()}:v1"],
                options=RegistryOptions(retry=instant_retry(4), concurrency=1))
    assert str(status) in str(err.value)
    if code:
        assert err.value.code == code and f"nope: {code.lower()}" in str(err.value)
    # One attempt each (401 may re-ask once for credentials, never more).
    assert len(proxy.requests(method, path)) <= (1 if status != 401 else 3)


def test_head_server_error_is_never_taken_for_missing(proxy, make_image, do_push, fast_options):
    img = make_image("h")
    html = b"<html><body>" + b"x" * (2 << 20) + b"</body></html>"  # oversized HTML body
    proxy.add(Fault("HEAD", "/blobs/sha256:", "status", 500, times=-1))
    proxy.add(Fault("PUT", "/manifests/", "status", 500, body=html, times=-1))
    with pytest.raises(RegistryError) as err:
        do_push(img, [f"{proxy.host}/faults/head500:v1"], options=fast_options)
    assert "500" in str(err.value) and "<html" not in str(err.value)
    assert proxy.requests("POST") == [], "a blob was uploaded although HEAD failed"


def test_concurrency_is_bounded(proxy, registry, make_image, do_push, tmp_path):
    from leango.oci import Index, Platform
    index = Index(tuple(make_image("cc", platform=Platform("linux", a)) for a in ("amd64", "arm64", "386")))
    do_push(index, [f"{proxy.host}/faults/conc:v1"], options=RegistryOptions(concurrency=2))
    assert 1 <= proxy.max_inflight <= 2
    base = index.manifests[0].layers[0].digest.hex  # shared by all three platforms
    assert len(proxy.requests("PUT", f"digest=sha256%3A{base}")) == 1, "identical layer uploaded twice"
    order = [s.path for s in proxy.seen if s.method == "PUT"]
    manifest_puts = [i for i, p in enumerate(order) if "/manifests/" in p]
    blob_puts = [i for i, p in enumerate(order) if "/blobs/" in p]
    assert max(blob_puts) < min(manifest_puts)
    assert order[-1].endswith("/manifests/v1"), "the index must be PUT last"


def test_stalled_server_read_timeout(make_image, do_push):
    """A server that accepts TCP and never answers: the read timeout fires, no hang."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    conns = []
    stop = threading.Event()

    def accept():
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(sock.accept()[0])
            except OSError:
                pass
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    host = f"127.0.0.1:{sock.getsockname()[1]}"
    try:
        with pytest.raises(RegistryError) as err:
            do_push(make_image("st"), [f"{host}/x:v1"],
                    options=RegistryOptions(read_timeout=1, connect_timeout=1, retry=instant_retry(2)))
    finally:
        stop.set()
        thread.join()
        for c in conns:
            c.close()
        sock.close()
    assert "timed out" in str(err.value) and err.value.attempts == 2


def test_sigterm_during_push_cancels_open_uploads(proxy, cache_dir, tmp_path):
    """Checklist 17 through the CLI: SIGTERM mid-body → exit 130, the session DELETEd, no manifest."""
    import signal
    import subprocess

    from support.cli import leango_argv
    from support.paths import FIXTURES
    proxy.add(Fault("PUT", r"/blobs/uploads/.*digest=", "slow", rate=16 * 1024, times=-1))
    proc = subprocess.Popen(
        [*leango_argv(), "build", str(FIXTURES / "hello-world"), "--tag",
         f"{proxy.host}/faults/sigterm:v1", "--push", "-q", "--cache-dir", str(cache_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not proxy.requests("PUT", "/blobs/uploads/"):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no upload started"
        time.sleep(0.05)
    while proxy.forwarded == 0:  # mid-body: some of the blob has gone upstream
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)  # a hang guard, not a speed claim
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert all(s.fault == "slow" for s in proxy.requests("PUT", "/blobs/uploads/"))
    assert not [s for s in proxy.seen if s.status and s.status >= 500], "the test must not rely on errors"
    assert proxy.requests("DELETE", "/blobs/uploads/"), "the open upload session was not cancelled"
    assert proxy.requests("PUT", "/manifests/") == []


# -- the catalogue, raised ------------------------------------------------------------------
def test_ten_pushes_survive_half_the_requests_failing(registry, make_image, do_push, tmp_path):
    """50 % of requests answer 500/502/503/429 or reset mid-body. One worker keeps the order of
    requests, and so each seeded run, repeatable; every pushed digest is verified."""
    from support.faultproxy import FaultProxy
    img = make_image("chaos")
    faults = 0
    for seed in range(10):
        proxy = FaultProxy(registry.host)
        proxy.chaos(0.5, seed=seed)
        try:
            do_push(img, [f"{proxy.host}/chaos/s{seed}:v1"],
                    options=RegistryOptions(retry=instant_retry(14), concurrency=1, read_timeout=5))
            faults += sum(1 for s in proxy.seen if s.fault)
        finally:
            proxy.close()
        _verify(registry.host, f"chaos/s{seed}", img, tmp_path)
    assert faults >= 20, "the proxy must really have failed requests"


def test_a_registry_that_stops_reading_mid_body_is_timed_out_and_retried(proxy, registry, make_image,
                                                                          do_push, tmp_path):
    img = make_image("midbody")
    proxy.add(Fault("PUT", f"digest=sha256%3A{_big_layer(img)}", "stall_body", stall=60))
    options = RegistryOptions(read_timeout=1, connect_timeout=1, retry=instant_retry(3))
    do_push(img, [f"{proxy.host}/faults/midbody:v1"], options=options)
    assert [s.fault for s in proxy.requests("PUT", _big_layer(img))] == ["stall_body", ""]
    assert len(proxy.requests("DELETE", "/blobs/uploads/")) == 1, "the stalled session was cancelled"
    _verify(registry.host, "faults/midbody", img, tmp_path)


def test_a_registry_restarted_during_a_push_loses_nothing(tmp_path, make_image, do_push):
    """The registry process is stopped and started again (same port, same storage) while a blob
    is on its way: the upload restarts in a fresh session and every digest is verified."""
    from leango.oci.registry.retry import RetryPolicy
    from support.faultproxy import FaultProxy
    from support.registry import RealRegistry
    reg = RealRegistry(tmp_path / "restarting")
    proxy = FaultProxy(reg.host)
    img = make_image("restart")
    proxy.add(Fault("PUT", f"digest=sha256%3A{_big_layer(img)}", "slow", rate=64 * 1024))
    restarted = threading.Event()

    def restart_when_uploading():
        while not proxy.requests("PUT", _big_layer(img)):
            if proxy.stop_event.wait(0.02):
                return
        reg.restart()
        restarted.set()
    threading.Thread(target=restart_when_uploading, daemon=True).start()
    try:
        # Real (short) backoff: the registry needs a moment to come back.
        policy = RetryPolicy(max_attempts=10, backoff_base=0.2, backoff_max=1.0)
        do_push(img, [f"{proxy.host}/faults/restart:v1"], options=RegistryOptions(retry=policy, read_timeout=5))
        assert restarted.is_set()
        assert len(proxy.requests("PUT", _big_layer(img))) >= 2
        _verify(reg.host, "faults/restart", img, tmp_path)
    finally:
        proxy.close()
        reg.stop()


def test_retry_after_of_an_hour_is_capped_and_reported(proxy, registry, make_image, do_push, caplog, tmp_path):
    import logging
    img = make_image("hour")
    proxy.add(Fault("PUT", "/manifests/v1", "status", 429, {"Retry-After": "3600"}))
    options = RegistryOptions(retry=instant_retry(4, max_retry_after=30))
    with caplog.at_level(logging.WARNING):
        do_push(img, [f"{proxy.host}/faults/hour:v1"], options=options)
    assert options.retry.sleep == [30.0], "an hour is never slept"
    assert "retry after 3600s" in caplog.text and "at most 30s" in caplog.text
    _verify(registry.host, "faults/hour", img, tmp_path)


def test_the_default_is_three_parallel_uploads(proxy, registry, make_image, do_push):
    """Four distinct blobs, each upload slowed so they overlap: at most three at once, and three."""
    from leango.oci import Index, Platform
    index = Index(tuple(make_image("par", platform=Platform("linux", a)) for a in ("amd64", "arm64", "386")))
    proxy.add(Fault("PUT", r"/blobs/uploads/.*digest=", "slow", rate=4 << 20, times=-1))
    assert RegistryOptions().concurrency == 3
    do_push(index, [f"{proxy.host}/faults/par:v1"])
    assert proxy.max_inflight == 3


def test_a_blob_the_registry_does_not_confirm_stops_the_push_before_any_manifest(proxy, make_image, do_push,
                                                                                    fast_options):
    """Every uploaded blob is confirmed by HEAD before a manifest is sent: a registry that accepts the
    upload but then answers HEAD 404 for it fails the push, and no manifest is PUT."""
    img = make_image("unconfirmed")
    big = _big_layer(img)
    proxy.add(Fault("HEAD", f"/blobs/sha256:{big}", "status", 404, times=-1))
    with pytest.raises(RegistryError, match=f"does not hold sha256:{big}"):
        do_push(img, [f"{proxy.host}/faults/unconfirmed:v1"], options=fast_options)
    assert proxy.requests("PUT", f"digest=sha256%3A{big}"), "the blob was uploaded"
    assert proxy.requests("PUT", "/manifests/") == []


def test_one_cause_met_by_parallel_uploads_is_said_once(proxy, make_image, do_push, fast_options, caplog):
    """Every blob upload meets the same 503: 'retrying' says so once at the default level (the
    rest at debug), however many uploads retry; a second cause is said too."""
    import logging
    img = make_image("c")
    proxy.add(Fault("POST", "/blobs/uploads/", "status", 503, times=-1))
    caplog.set_level(logging.INFO, logger="leango.oci.registry.retry")
    with pytest.raises(RegistryError):
        do_push(img, [f"{proxy.host}/faults/collapse:v1"], options=fast_options)
    said = [r for r in caplog.records if r.levelno == logging.INFO and "retrying" in r.getMessage()]
    assert len(said) == 1, [r.getMessage() for r in said]
    assert len(fast_options.retry.sleep) > 1  # it did retry, more than once
    other = fast_options.retry
    other.wait(1, RegistryError("GET x failed: connection reset"), "GET blob")
    assert len([r for r in caplog.records if r.levelno == logging.INFO and "retrying" in r.getMessage()]) == 2
