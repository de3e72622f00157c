"""The security review's findings, each pinned: hostile registries, headers and bodies, token realm
targets, credential files, terminal escapes, OCI layout edge cases."""

from __future__ import annotations

import os
import stat
import threading
import tracemalloc
from pathlib import Path

import pytest

from leango.oci.errors import LayoutError, RegistryError
from leango.oci.registry.credentials import Credential, store_login
from leango.oci.registry.guard import check_redirect_target
from leango.oci.registry.push import Pusher
from leango.oci.registry.transport import RegistryOptions, Transport
from leango.oci.registry.upload import BlobUploader
from support.clock import instant_retry
from support.hostile import HostileRegistry, Rule, gzip_bomb, raw

PUBLIC = "https://1.1.1.1"


@pytest.fixture
def hostile():
    servers = []

    def make(*rules: Rule) -> HostileRegistry:
        server = HostileRegistry(list(rules))
        servers.append(server)
        return server
    yield make
    for s in servers:
        s.close()


def _transport(server: HostileRegistry, **opts) -> Transport:
    return Transport(server.host, Credential(), RegistryOptions(**({"retry": instant_retry(2)} | opts)))


# -- 4. where credentials may go -----------------------------------------------------------
@pytest.mark.parametrize("target", [
    "http://127.1/token", "https://127.1/token", "https://2130706433/token", "https://0x7f.0.0.1/token",
    "https://0xa9.0xfe.0xa9.0xfe/latest", "https://0/token", "https://017700000001/token",
    "https://169.254.169.254/latest/meta-data", "https://[fd00:ec2::254]/", "https://100.100.100.200/",
    "https://169.254.10.10/", "https://[fe80::1]/", "https://0.0.0.0/", "https://metadata.google.internal/x",
    "https://metadata/x", "https://10.1.2.3/token", "https://192.168.1.1/token", "https://127.0.0.1:5000/t",
    "https://localhost/token",
])
def test_realms_at_internal_or_non_canonical_addresses_are_refused(target):
    with pytest.raises(RegistryError, match="refusing"):
        check_redirect_target(PUBLIC, target, "token realm")


@pytest.mark.parametrize("registry,target", [
    (PUBLIC, "https://8.8.8.8/token"),                      # another public host
    (PUBLIC, "https://1.1.1.1:8443/token"),                 # the registry's own host
    ("http://127.0.0.1:5000", "http://localhost:5001/t"),  # a loopback registry's loopback realm
    ("https://10.0.0.5", "https://10.0.0.6/token"),         # a private registry's private realm
])
def test_realms_the_registry_may_use(registry, target):
    check_redirect_target(registry, target, "token realm")


def test_downgrade_and_malformed_targets_are_refused():
    with pytest.raises(RegistryError, match="plain http"):
        check_redirect_target(PUBLIC, "http://8.8.8.8/token", "token realm")
    for bad in ("http://[::1/x", "ftp://8.8.8.8/", "https:///nohost"):
        with pytest.raises(RegistryError, match="refusing"):
            check_redirect_target(PUBLIC, bad, "upload location")


# -- 5. hostile headers: a RegistryError, never a traceback ---------------------------------
def test_retry_after_that_is_not_a_number_or_date(hostile):
    server = hostile(Rule("GET", "/v2/x/manifests/", raw("400 Bad Request", {"Retry-After": "soon"})),
                     Rule("GET", "/v2/y/manifests/", raw("429 Too Many", {"Retry-After": "٣"})))
    t = _transport(server)
    for repo in ("x", "y"):
        with pytest.raises(RegistryError) as err:
            t.request("GET", t.url(f"/v2/{repo}/manifests/v1"), scopes=(), expect=(200,))
        assert err.value.retry_after is None


def test_head_with_a_malformed_content_length(hostile, make_image):
    server = hostile(Rule("HEAD", "/blobs/", raw("200 OK", {"Content-Length": "abc"})))
    blob = next(make_image().blobs())
    with pytest.raises(RegistryError, match="malformed Content-Length"):
        BlobUploader(_transport(server), "x", cancel=threading.Event()).exists(blob)


def test_non_ascii_chunk_minimum_and_broken_location(hostile, make_image):
    server = hostile(Rule("HEAD", "/blobs/", raw("404 Not Found")),
                     Rule("POST", "/blobs/uploads/", raw("202 Accepted", {"OCI-Chunk-Min-Length": "²",
                                                                          "Location": "http://[::1/x"})))
    with pytest.raises(RegistryError, match="malformed Location"):
        Pusher(_transport(server), "x").push(make_image(), ("v1",))


def test_a_202_with_a_corrupt_gzip_body_is_not_decoded(hostile):
    server = hostile(Rule("POST", "/blobs/uploads/", raw("202 Accepted", {
        "Content-Encoding": "gzip", "Location": "/v2/x/blobs/uploads/1"}, b"\x1f\x8bnot gzip at all")))
    t = _transport(server)
    resp = t.request("POST", t.url("/v2/x/blobs/uploads/"), scopes=(), expect=(202,))
    assert resp.headers["Location"] == "/v2/x/blobs/uploads/1"


# -- 3. bodies without limits -----------------------------------------------------------------
def _peak_during(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_compressed_bomb_in_a_success_reply_is_never_inflated(hostile):
    bomb = gzip_bomb(800 << 20)
    server = hostile(Rule("POST", "/blobs/uploads/", raw("202 Accepted", {
        "Content-Encoding": "gzip", "Location": "/v2/x/blobs/uploads/1"}, bomb)))
    t = _transport(server)
    peak = _peak_during(lambda: t.request("POST", t.url("/v2/x/blobs/uploads/"), scopes=(), expect=(202,)))
    assert peak < 32 << 20, f"{peak >> 20} MiB"


def test_a_compressed_bomb_as_an_error_or_token_reply_is_capped(hostile):
    bomb = gzip_bomb(400 << 20)
    server = hostile(
        Rule("GET", "/v2/$", raw("401 Unauthorized", {
            "WWW-Authenticate": 'Bearer realm="http://127.0.0.1:{port}/token",service="x"'})),
        Rule("GET", "/token", raw("200 OK", {"Content-Encoding": "gzip", "Content-Type": "application/json"}, bomb)),
        Rule("PUT", "/manifests/", raw("400 Bad Request", {"Content-Encoding": "gzip"}, bomb)))
    port = server.host.split(":")[1]
    server.rules[0].response = server.rules[0].response.replace(b"{port}", port.encode())
    t = Transport(server.host, Credential("u", "p"), RegistryOptions(retry=instant_retry(1)))

    def attempt():
        with pytest.raises(RegistryError, match="larger than"):
            t.request("GET", t.url("/v2/x/manifests/v1"), scopes=("repository:x:pull",), expect=(200,))
    assert _peak_during(attempt) < 64 << 20


@pytest.mark.parametrize("body_only,expected", [(False, "no complete response within 2 s"),
                                                (True, "took longer than 1 s")])
def test_a_trickling_token_reply_ends_at_the_deadline(hostile, body_only, expected):
    server = hostile(
        Rule("GET", "/v2/$", raw("401 Unauthorized", {
            "WWW-Authenticate": 'Bearer realm="http://127.0.0.1:{port}/token",service="x"'})),
        Rule("GET", "/token", raw("200 OK", {"Content-Type": "application/json"}, b'{"token":"' + b"x" * 200 + b'"}'),
             trickle=0.05, body_only=body_only))
    server.rules[0].response = server.rules[0].response.replace(b"{port}", server.host.split(":")[1].encode())
    t = Transport(server.host, Credential("u", "p"), RegistryOptions(retry=instant_retry(1), read_timeout=1))
    with pytest.raises(RegistryError, match=expected):
        t.request("GET", t.url("/v2/x/manifests/v1"), scopes=("repository:x:pull",), expect=(200,))


# -- 8. registry text reaches the terminal filtered ------------------------------------------
def test_escape_sequences_in_errors_and_warnings_are_neutralised(hostile, caplog):
    evil = "\x1b[2K\r\x1b[32mLogin Succeeded\x1b[0m\u202e" + "A" * 5000
    import json
    body = json.dumps({"errors": [{"code": "DENIED", "message": evil}]}).encode()
    server = hostile(Rule("GET", "/manifests/", raw("403 Forbidden", {"Warning": f'299 - "{evil[:50]}"'}, body)))
    t = _transport(server)
    with pytest.raises(RegistryError) as err:
        t.request("GET", t.url("/v2/x/manifests/v1"), scopes=(), expect=(200,))
    text = str(err.value) + caplog.text
    assert "\x1b" not in text and "\r" not in text and "\u202e" not in text
    assert "Login Succeeded" in str(err.value) and len(str(err.value)) < 1000


# -- 6. the credential file ------------------------------------------------------------------
def test_login_never_writes_through_a_planted_file_or_symlink(tmp_path):
    auth = tmp_path / "containers" / "auth.json"
    auth.parent.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    for pid in range(os.getpid() - 2, os.getpid() + 3):  # the old predictable names
        (auth.parent / f".auth.json.{pid}.tmp").symlink_to(victim)
    old_umask = os.umask(0)
    try:
        store_login(auth, "r.io", "u", "secret-pw")
    finally:
        os.umask(old_umask)
    assert victim.read_text() == "untouched"
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600 and not auth.is_symlink()
    assert "secret-pw" not in "".join(p.name for p in auth.parent.iterdir())


def test_concurrent_logins_keep_every_entry(tmp_path):
    auth = tmp_path / "auth.json"
    threads = [threading.Thread(target=store_login, args=(auth, f"r{i}.io", "u", "p")) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    import json
    assert sorted(json.loads(auth.read_text())["auths"]) == sorted(f"r{i}.io" for i in range(16))


# -- 9. OCI layout edge cases ----------------------------------------------------------------
def test_a_failed_first_write_leaves_a_layout_the_next_run_extends(tmp_path, make_image, monkeypatch):
    from leango.oci.sinks import layout
    img, dest = make_image(), tmp_path / "layout"
    original = layout.write_bytes_atomic

    def fail_on_index(path, data):
        if path.name == "index.json":
            raise OSError("disk full")
        return original(path, data)
    monkeypatch.setattr(layout, "write_bytes_atomic", fail_on_index)
    with pytest.raises(LayoutError, match="disk full"):
        layout.write_layout(dest, img, ["a:v1"])
    monkeypatch.setattr(layout, "write_bytes_atomic", original)
    layout.write_layout(dest, img, ["a:v1"])
    from support.ocicheck import check_layout
    assert check_layout(dest).manifests == [img.digest]


def test_concurrent_first_writers_both_succeed(tmp_path, make_image):
    from leango.oci.sinks.layout import read_index, write_layout
    dest, errors = tmp_path / "layout", []
    images = [make_image(f"c{i}") for i in range(4)]

    def write(i):
        try:
            write_layout(dest, images[i], [f"r.io/c{i}:v1"])
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)
    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(read_index(dest)) == 4


@pytest.mark.parametrize("name", ["blobs", "index.json"])
def test_symlinked_layout_parts_are_refused(tmp_path, make_image, name):
    from leango.oci.sinks.layout import write_layout
    dest, elsewhere = tmp_path / "layout", tmp_path / "elsewhere"
    write_layout(dest, make_image(), [])
    elsewhere.mkdir()
    target = dest / name
    if target.is_dir():
        os.rename(target, elsewhere / name)
    else:
        target.unlink()
    target.symlink_to(elsewhere / name)
    with pytest.raises(LayoutError, match="symlink"):
        write_layout(dest, make_image("other"), [])
    assert not any(Path(elsewhere).rglob("*other*"))


# -- 7. --registry-ca survives the plain-HTTP fallback ----------------------------------------
def test_registry_ca_still_trusted_for_an_https_token_server_after_falling_back_to_http(tmp_path, make_image):
    """A loopback registry on plain http, its token realm on https with a certificate from the CA
    given as --registry-ca: the token request verifies against that CA."""
    import ssl

    from support.fakeregistry import Behaviour, FakeRegistry
    from support.tlsca import make_ca
    ca = make_ca(tmp_path / "ca")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ca.server_cert, ca.server_key)
    issuer = FakeRegistry(Behaviour(auth="bearer"), tls=ctx)
    registry = FakeRegistry(Behaviour(auth="bearer"))
    registry.tokens = issuer.tokens  # tokens the https issuer hands out are good at the registry
    registry.b.realm = f"https://{issuer.host}/token"
    try:
        opts = RegistryOptions(ca_file=ca.ca_cert, retry=instant_retry(2))
        Pusher(Transport(registry.host, Credential("user", "pass"), opts), "team/app").push(make_image(), ("v1",))
        assert issuer.token_requests and registry.find("PUT", "/manifests/v1")
        with pytest.raises(RegistryError, match="TLS verification failed|certificate"):
            Pusher(Transport(registry.host, Credential("user", "pass"), RegistryOptions(retry=instant_retry(2))),
                   "team/app2").push(make_image("b"), ("v1",))
    finally:
        issuer.close()
        registry.close()


def test_a_server_trickling_its_headers_meets_the_response_deadline(hostile):
    """One byte every 50 ms never trips a read timeout; the response deadline ends the wait."""
    headers = raw("200 OK", {"X-Padding": "p" * 4000})
    server = hostile(Rule("GET", "/manifests/", headers, trickle=0.05))
    t = _transport(server, read_timeout=2, response_deadline=1)
    with pytest.raises(RegistryError, match="no complete response within 1 s") as err:
        t.request("GET", t.url("/v2/x/manifests/v1"), scopes=(), expect=(200,))
    assert err.value.attempts == 2  # a transient failure: retried, then given up


def test_the_response_deadline_holds_through_an_http_proxy(hostile):
    """registry.test is not loopback, so the request goes through the proxy (which connects to
    127.0.0.1 whatever the name); the trickle reaches the client through it, byte by byte."""
    from leango.oci.registry.proxy import ProxyConfig
    from support.forwardproxy import ForwardProxy
    server = hostile(Rule("GET", "/manifests/", raw("200 OK", {"X-Padding": "p" * 4000}), trickle=0.05))
    proxy = ForwardProxy()
    try:
        host = f"registry.test:{server.host.split(':')[1]}"
        t = Transport(host, Credential(), RegistryOptions(
            retry=instant_retry(2), read_timeout=2, response_deadline=1, insecure_hosts=("registry.test",),
            proxy=ProxyConfig(https_proxy=proxy.url, http_proxy=proxy.url)))
        with pytest.raises(RegistryError, match="no complete response within 1 s") as err:
            t.request("GET", t.url("/v2/x/manifests/v1"), scopes=(), expect=(200,))
        assert err.value.attempts == 2
        assert f"GET http://{host}/v2/x/manifests/v1 HTTP/1.1" in proxy.seen
    finally:
        proxy.close()


def test_an_https_registry_through_a_proxy_is_verified_with_the_ca_given(secure_registry, registry_ca):
    """registry.test (in the test certificate, not loopback) goes through the proxy's CONNECT
    tunnel; the registry's certificate is checked against --ca-file there too, and without it
    the same request is refused."""
    from leango.oci.registry.proxy import ProxyConfig
    from support.forwardproxy import ForwardProxy
    from support.registry import PASSWORD, USER
    proxy = ForwardProxy()
    try:
        host = f"registry.test:{secure_registry.host.split(':')[1]}"
        through = ProxyConfig(https_proxy=proxy.url, http_proxy=proxy.url)
        trusted = Transport(host, Credential(USER, PASSWORD), RegistryOptions(
            retry=instant_retry(2), proxy=through, ca_file=registry_ca.ca_cert))
        trusted.request("GET", trusted.url("/v2/"), scopes=(), expect=(200,)).close()
        assert proxy.seen[0].startswith(f"CONNECT {host} HTTP/")
        untrusted = Transport(host, Credential(USER, PASSWORD), RegistryOptions(retry=instant_retry(2), proxy=through))
        with pytest.raises(RegistryError, match="certificate"):
            untrusted.request("GET", untrusted.url("/v2/"), scopes=(), expect=(200,))
    finally:
        proxy.close()


def test_proxied_connections_of_both_schemes_carry_the_deadline():
    from leango.oci.registry.deadline import POOL_CLASSES
    from leango.oci.registry.tls import TLSAdapter, verifying_context
    adapter = TLSAdapter(verifying_context(None, None))
    manager = adapter.proxy_manager_for("http://127.0.0.1:3128")
    assert manager.pool_classes_by_scheme == POOL_CLASSES


def test_an_untrusted_token_server_fails_at_once_without_retries(tmp_path, make_image, caplog):
    """A certificate that fails verification is final: no worker retries it (it took 21 retry lines
    and about 35 s before)."""
    import logging
    import ssl

    from support.fakeregistry import Behaviour, FakeRegistry
    from support.tlsca import make_ca
    ca = make_ca(tmp_path / "ca")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ca.server_cert, ca.server_key)
    issuer = FakeRegistry(Behaviour(auth="bearer"), tls=ctx)
    registry = FakeRegistry(Behaviour(auth="bearer"))
    registry.b.realm = f"https://{issuer.host}/token"
    try:
        opts = RegistryOptions(retry=instant_retry(8))  # the test CA is not trusted
        caplog.set_level(logging.INFO)
        with pytest.raises(RegistryError, match="certificate") as err:
            Pusher(Transport(registry.host, Credential("user", "pass"), opts), "team/app").push(make_image(), ("v1",))
        assert err.value.attempts == 1
        assert not [r for r in caplog.records if "retrying" in r.getMessage()]
        assert not issuer.token_requests  # the handshake failed: no request reached it
    finally:
        issuer.close()
        registry.close()


@pytest.mark.parametrize("trickle,cut", [(0.05, True), (0.0, False)])
def test_a_trickled_blob_meets_its_deadline(hostile, trickle, cut):
    """107 bytes at one every 50 ms would take 5 s; the blob's deadline (the response deadline
    plus its size at 64 KiB/s) ends the wait after 1 s. The same blob sent at once arrives."""
    import io

    from leango.oci import Digest
    from leango.oci.descriptor import Descriptor
    from leango.oci.registry.pull import Puller
    body = b"c" * 107
    server = hostile(Rule("GET", "/blobs/", raw("200 OK", {}, body), trickle=trickle, body_only=True))
    desc = Descriptor("application/octet-stream", Digest.of_bytes(body), len(body))
    puller = Puller(_transport(server, response_deadline=1, retry=instant_retry(1)), "team/app")
    out = io.BytesIO()
    if cut:
        with pytest.raises(RegistryError, match=r"did not arrive within 1 s \(\d+ of 107 bytes\)") as err:
            puller.blob(desc, out)
        assert int(str(err.value).split("(")[1].split(" ")[0]) < 107  # cut mid-body, not at its end
    else:
        puller.blob(desc, out)
        assert out.getvalue() == body


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
@pytest.mark.parametrize("trust_issuer", [False, True])
def test_insecure_registry_relaxes_that_host_alone_never_its_token_server(tmp_path, make_image, trust_issuer):
    """The registry is --insecure-registry (its certificate is trusted by no one); its token realm,
    another host:port, is verified all the same: it fails unless its CA is given."""
    import ssl

    from support.fakeregistry import Behaviour, FakeRegistry
    from support.tlsca import make_ca
    contexts = []
    for name in ("registry", "issuer"):
        ca = make_ca(tmp_path / name)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ca.server_cert, ca.server_key)
        contexts.append((ca, ctx))
    issuer = FakeRegistry(Behaviour(auth="bearer"), tls=contexts[1][1])
    registry = FakeRegistry(Behaviour(auth="bearer"), tls=contexts[0][1])
    registry.tokens = issuer.tokens
    registry.b.realm = f"https://{issuer.host}/token"
    try:
        opts = RegistryOptions(insecure_hosts=(registry.host,), retry=instant_retry(2),
                               ca_file=contexts[1][0].ca_cert if trust_issuer else None)
        push = lambda: Pusher(Transport(registry.host, Credential("user", "pass"), opts), "team/app").push(
            make_image(), ("v1",))
        if trust_issuer:
            push()
            assert registry.find("PUT", "/manifests/v1") and issuer.token_requests
        else:
            with pytest.raises(RegistryError, match="certificate|TLS"):
                push()
            assert not issuer.token_requests and not registry.find("PUT", "/manifests/")
    finally:
        issuer.close()
        registry.close()
