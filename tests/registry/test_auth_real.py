"""TLS + htpasswd registry: credentials from every source, and clear failures."""

from __future__ import annotations

import base64
import json
import shutil
import stat

import pytest

from support.cli import leango
from support.paths import FIXTURES
from support.peers import skopeo_inspect
from support.registry import PASSWORD, USER
from support.tlsca import make_ca


@pytest.fixture
def home(tmp_path):
    """An isolated HOME: no credentials but the ones a test writes."""
    h = tmp_path / "home"
    (h / "run").mkdir(parents=True)
    return h


def _env(home, **extra):
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": str(home / "run"), "DOCKER_CONFIG": str(home / ".docker"),
           "XDG_CONFIG_HOME": str(home / ".config")}
    env.update(extra)
    return env


def _push(reg, ca, home, cache_dir, *extra, env=None, check=True, repo="auth/hello:v1"):
    quiet = [] if any(str(e).startswith("-v") for e in extra) else ["-q"]
    args = ["build", FIXTURES / "hello-world", "--tag", f"{reg.host}/{repo}", "--push", "--json", *quiet,
            "--cache-dir", cache_dir, *extra]
    if ca is not None:
        args += ["--registry-ca", ca.ca_cert]
    return leango(*args, env=env or _env(home), check=check)


def _auth(user=USER, password=PASSWORD):
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_docker_config_auths(secure_registry, registry_ca, home, cache_dir):
    # Keys may carry a scheme and a trailing slash, as docker login writes them.
    _write(home / ".docker" / "config.json", {"auths": {f"https://{secure_registry.host}/": {"auth": _auth()}}})
    out = json.loads(_push(secure_registry, registry_ca, home, cache_dir).stdout)
    assert out["pushed"][0]["reference"].startswith(f"{secure_registry.host}/auth/hello:v1@sha256:")


def test_containers_auth_json(secure_registry, registry_ca, home, cache_dir):
    authfile = _write(home / "elsewhere" / "auth.json", {"auths": {
        f"{secure_registry.host}/other": {"auth": _auth(password="wrong")},  # a more specific, other namespace
        f"{secure_registry.host}/authjson": {"auth": _auth()}}})
    proc = _push(secure_registry, registry_ca, home, cache_dir, repo="authjson/app:v1",
                 env=_env(home, REGISTRY_AUTH_FILE=str(authfile)))
    assert json.loads(proc.stdout)["pushed"]


def test_runtime_dir_auth_json_beats_docker_config(secure_registry, registry_ca, home, cache_dir):
    _write(home / "run" / "containers" / "auth.json", {"auths": {secure_registry.host: {"auth": _auth()}}})
    _write(home / ".docker" / "config.json", {"auths": {secure_registry.host: {"auth": _auth(password="nope")}}})
    assert json.loads(_push(secure_registry, registry_ca, home, cache_dir).stdout)["pushed"]


def test_credential_helper(secure_registry, registry_ca, home, cache_dir, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    helper = bindir / "docker-credential-leangotest"
    helper.write_text("#!/bin/sh\nread server\n"
                      f'[ "$1" = get ] && [ "$server" = "{secure_registry.host}" ] || exit 1\n'
                      f"printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}' \"$server\"\n")
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    _write(home / ".docker" / "config.json", {"credHelpers": {secure_registry.host: "leangotest"}})
    import os
    env = _env(home, PATH=f"{bindir}:{os.environ['PATH']}")
    assert json.loads(_push(secure_registry, registry_ca, home, cache_dir, env=env).stdout)["pushed"]


def test_wrong_credentials(secure_registry, registry_ca, home, cache_dir):
    _write(home / ".docker" / "config.json", {"auths": {secure_registry.host: {"auth": _auth(password="bad")}}})
    proc = _push(secure_registry, registry_ca, home, cache_dir, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "authentication failed" in proc.stderr
    assert "bad" not in proc.stderr and PASSWORD not in proc.stderr


def test_no_credentials(secure_registry, registry_ca, home, cache_dir):
    proc = _push(secure_registry, registry_ca, home, cache_dir, check=False)
    assert proc.returncode == 1 and "no credentials were found" in proc.stderr


def test_unknown_ca(secure_registry, home, cache_dir):
    _write(home / ".docker" / "config.json", {"auths": {secure_registry.host: {"auth": _auth()}}})
    proc = _push(secure_registry, None, home, cache_dir, check=False)
    assert proc.returncode == 1
    assert "TLS verification failed" in proc.stderr and "--registry-ca" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_missing_helper_sends_nothing(proxy, home, cache_dir):
    _write(home / ".docker" / "config.json", {
        "auths": {proxy.host: {"auth": _auth()}},  # must NOT be used instead of the helper
        "credHelpers": {proxy.host: "does-not-exist"}})
    proc = leango("build", FIXTURES / "hello-world", "--tag", f"{proxy.host}/x:v1", "--push", "-q",
                  "--cache-dir", cache_dir, env=_env(home), check=False)
    assert proc.returncode == 1
    assert "docker-credential-does-not-exist" in proc.stderr and "no credentials were sent" in proc.stderr
    assert all(s.authorization is None for s in proxy.seen)


def test_login_then_push_and_skopeo_reads_it(secure_registry, registry_ca, home, cache_dir, tmp_path):
    authfile = tmp_path / "login" / "auth.json"
    base = ["login", secure_registry.host, "-u", USER, "--password-stdin", "--registry-ca",
            str(registry_ca.ca_cert), "--authfile", str(authfile)]
    import subprocess

    from support.cli import leango_argv

    def login(password):
        return subprocess.run([*leango_argv(), *base], input=password + "\n", text=True,
                              capture_output=True, env={**_env(home),
                                                        "PATH": "/usr/bin:/bin"})
    bad = login("wrong-password")
    assert bad.returncode == 1 and "authentication failed" in bad.stderr and not authfile.exists()
    base.append("--json")
    good = login(PASSWORD)
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout) == {"registry": secure_registry.host, "authfile": str(authfile)}
    assert PASSWORD not in good.stderr + good.stdout
    assert stat.S_IMODE(authfile.stat().st_mode) == 0o600
    proc = _push(secure_registry, registry_ca, home, cache_dir, env=_env(home, REGISTRY_AUTH_FILE=str(authfile)))
    digest = json.loads(proc.stdout)["digest"]
    certs = tmp_path / "certs"
    certs.mkdir()
    shutil.copy(registry_ca.ca_cert, certs / "ca.crt")
    info = skopeo_inspect(f"docker://{secure_registry.host}/auth/hello:v1",
                          extra=[f"--authfile={authfile}", f"--cert-dir={certs}"])
    assert info["Digest"] == digest
    out = leango("logout", secure_registry.host, "--authfile", authfile, "--json", env=_env(home))
    assert "Removed credentials" in out.stderr
    assert json.loads(out.stdout) == {"registry": secure_registry.host, "authfile": str(authfile), "removed": True}
    assert json.loads(authfile.read_text())["auths"] == {}
    again = leango("logout", secure_registry.host, "--authfile", authfile, "--json", env=_env(home))
    assert json.loads(again.stdout)["removed"] is False and "Not logged in" in again.stderr


def test_insecure_registry_flag_skips_verification(secure_registry, home, cache_dir):
    _write(home / ".docker" / "config.json", {"auths": {secure_registry.host: {"auth": _auth()}}})
    proc = _push(secure_registry, None, home, cache_dir, "--insecure-registry", secure_registry.host)
    assert json.loads(proc.stdout)["pushed"]
    assert "Warning" not in proc.stderr, "urllib3's InsecureRequestWarning leaked to stderr"
    # The port may be left out, as in --insecure-registry HOST.
    proc = _push(secure_registry, None, home, cache_dir, "--insecure-registry", "127.0.0.1")
    assert json.loads(proc.stdout)["pushed"]


def test_verbose_output_carries_no_secrets(secure_registry, registry_ca, home, cache_dir):
    _write(home / ".docker" / "config.json", {"auths": {secure_registry.host: {"auth": _auth()}}})
    proc = _push(secure_registry, registry_ca, home, cache_dir, "-vv", repo="auth/verbose:v1")
    log = proc.stderr + proc.stdout
    assert "GET /v2/" in log or "/v2/" in log, "debug logging did not show requests"
    assert PASSWORD not in log and _auth() not in log
    assert "_state=" not in log and "Authorization" not in log


def test_ssl_cert_file_replaces_the_system_trust(secure_registry, registry_ca, home, cache_dir, tmp_path):
    """A CA installed in the trust bundle (here via SSL_CERT_FILE) needs no --registry-ca."""
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(registry_ca.ca_cert.read_bytes())
    _write(home / ".docker" / "config.json", {"auths": {secure_registry.host: {"auth": _auth()}}})
    proc = _push(secure_registry, None, home, cache_dir, env=_env(home, SSL_CERT_FILE=str(bundle)))
    assert json.loads(proc.stdout)["pushed"]


def test_registry_ca_adds_to_the_system_trust(tmp_path):
    """Two servers, two CAs: one in the "system" bundle, one given as --registry-ca. Both verify
    (a replacing implementation fails the first); neither verifies without its CA."""
    import requests

    from leango.oci.registry.tls import make_session, verifying_context
    from support.tlsca import HTTPSServer
    system_ca, extra_ca = make_ca(tmp_path / "system"), make_ca(tmp_path / "extra")
    servers = [HTTPSServer(system_ca), HTTPSServer(extra_ca)]
    try:
        both = make_session("x", context=verifying_context(system_ca.ca_cert, extra_ca.ca_cert),
                            insecure=False)
        assert [both.get(s.url, timeout=5).status_code for s in servers] == [200, 200]
        only_system = make_session("x", context=verifying_context(system_ca.ca_cert), insecure=False)
        assert only_system.get(servers[0].url, timeout=5).status_code == 200
        with pytest.raises(requests.exceptions.SSLError):
            only_system.get(servers[1].url, timeout=5)
    finally:
        for server in servers:
            server.close()


def test_insecure_registry_leaves_other_hosts_verified(tmp_path):
    """--insecure-registry HOST skips verification for HOST only: a token realm or Location on another
    host (here: another port) still needs a trusted certificate."""
    import requests
    import urllib3

    from leango.oci.registry.tls import make_session, verifying_context
    from support.tlsca import HTTPSServer
    ca = make_ca(tmp_path / "ca")
    registry, realm = HTTPSServer(ca), HTTPSServer(ca)
    try:
        host = registry.url.split("/")[2]
        session = make_session(host, context=verifying_context(), insecure=True)
        # The library leaves urllib3's warning alone (no process-wide filters); the CLI silences it.
        with pytest.warns(urllib3.exceptions.InsecureRequestWarning):
            assert session.get(registry.url, timeout=5).status_code == 200
        with pytest.raises(requests.exceptions.SSLError):
            session.get(realm.url, timeout=5)
    finally:
        registry.close()
        realm.close()
