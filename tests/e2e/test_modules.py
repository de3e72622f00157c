"""Module downloads the way `go build` downloads them, against a local HTTPS module proxy:
the caller's GOPROXY/GONOSUMDB, the host's trust (SSL_CERT_FILE), a .netrc the proxy requires
(never in any output), --offline with a warm and a cold module cache."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from leango.oci.registry.tls import system_ca_file
from support.cli import leango
from support.goproxy import GoProxy, Module
from support.peers import Buildah
from support.tlsca import make_ca

USER, PASSWORD = "gopher", "n3trc-Secret-xyz"
APP_MAIN = '''package main

import (
\t"fmt"

\t"leango.test/greet"
\t"leango.test/shout"
)

func main() { fmt.Println(shout.Loud(greet.Hello("modules"))) }
'''
MODULES = [
    Module("leango.test/greet", "v1.0.0", {
        "go.mod": "module leango.test/greet\n\ngo 1.21\n",
        "greet.go": 'package greet\n\nfunc Hello(who string) string { return "hello, " + who }\n'}),
    Module("leango.test/shout", "v0.2.0", {
        "go.mod": "module leango.test/shout\n\ngo 1.21\n",
        "shout.go": 'package shout\n\nimport "strings"\n\nfunc Loud(s string) string { return strings.ToUpper(s) + "!" }\n'}),
]


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return make_ca(tmp_path_factory.mktemp("goproxy-ca"))


@pytest.fixture(scope="module")
def trust(ca, tmp_path_factory) -> Path:
    """The host's trust plus the test CA, as an SSL_CERT_FILE a user would set."""
    bundle = tmp_path_factory.mktemp("trust") / "bundle.pem"
    bundle.write_bytes(Path(system_ca_file()).read_bytes() + b"\n" + ca.ca_cert.read_bytes())
    return bundle


@pytest.fixture(scope="module")
def proxy(ca):
    p = GoProxy(ca, list(MODULES), USER, PASSWORD)
    yield p
    p.close()


def _netrc(directory: Path, proxy_url: str) -> Path:
    """Go's .netrc lookup matches the proxy's host:port."""
    host = proxy_url.split("//", 1)[1]
    path = directory / "netrc"
    path.write_text(f"machine {host} login {USER} password {PASSWORD}\n")
    path.chmod(0o600)
    return path


def _env(proxy_url: str, home: Path, trust: Path, netrc: Path | None) -> dict:
    env = {"HOME": str(home), "GOPROXY": proxy_url, "GONOSUMDB": "leango.test", "GOSUMDB": "sum.golang.org",
           "SSL_CERT_FILE": str(trust), "XDG_CONFIG_HOME": str(home / ".config")}
    if netrc is not None:
        env["NETRC"] = str(netrc)
    return env


@pytest.fixture(scope="module")
def app(proxy, trust, goroot, tmp_path_factory) -> Path:
    """A module requiring both proxy modules; go.sum written by the real go command."""
    src = tmp_path_factory.mktemp("app")
    (src / "go.mod").write_text("module example.com/modapp\n\ngo 1.21\n\nrequire (\n"
                                "\tleango.test/greet v1.0.0\n\tleango.test/shout v0.2.0\n)\n")
    (src / "main.go").write_text(APP_MAIN)
    home = tmp_path_factory.mktemp("tidy-home")
    env = {**_env(proxy.url, home, trust, _netrc(home, proxy.url)), "PATH": "/usr/bin:/bin", "GOTOOLCHAIN": "local",
           "GOFLAGS": "-mod=mod", "GOMODCACHE": str(home / "mod"), "GOCACHE": str(home / "cache")}
    tidy = subprocess.run([str(goroot / "bin" / "go"), "mod", "tidy"], cwd=src, env=env,
                          capture_output=True, text=True)
    assert tidy.returncode == 0, tidy.stderr
    subprocess.run(["chmod", "-R", "u+w", str(home / "mod")], check=True)
    assert "leango.test/greet v1.0.0 h1:" in (src / "go.sum").read_text()
    return src


def _all_bytes(root: Path):
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            yield path, path.read_bytes()


def test_private_modules_download_through_the_callers_proxy(app, proxy, trust, tmp_path):
    home, cache = tmp_path / "home", tmp_path / "cache"
    home.mkdir()
    archive = tmp_path / "app.tar"
    # By name: `localhost` resolves in the container through the hosts file buildah provides.
    url = proxy.url.replace("127.0.0.1", "localhost")
    proc = leango("build", app, "--cache-dir", cache, "--oci-archive", archive, "--json",
                  env=_env(url, home, trust, _netrc(tmp_path, url)))
    assert any(p.endswith("greet/@v/v1.0.0.zip") for p, _ in proxy.requests), "not fetched through GOPROXY"
    assert any(a and a.startswith("Basic ") for _, a in proxy.requests), "the .netrc was not used"
    ran = Buildah(tmp_path / "b").run_image(f"oci-archive:{archive}", "/modapp")
    assert ran.stdout == "HELLO, MODULES!\n"
    # The .netrc (and its password) never reach an output, a cache or a message.
    assert PASSWORD not in proc.stdout + proc.stderr
    for path, data in [(archive, archive.read_bytes()), *_all_bytes(cache)]:
        assert PASSWORD.encode() not in data, f"the .netrc password is in {path}"


def test_without_the_ca_the_download_fails_in_one_clear_line(app, proxy, ca, tmp_path):
    system_only = tmp_path / "system.pem"
    shutil.copy(system_ca_file(), system_only)
    proc = leango("build", app, "--cache-dir", tmp_path / "cache", "-q", check=False,
                  env=_env(proxy.url, tmp_path, system_only, _netrc(tmp_path, proxy.url)))
    assert proc.returncode == 1 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("leango: error: downloading modules failed:"), proc.stderr
    assert "certificate" in lines[0] and "leango.test/" in lines[0]


def test_without_the_netrc_the_proxy_refuses(app, proxy, trust, tmp_path):
    proc = leango("build", app, "--cache-dir", tmp_path / "cache", "-q", check=False,
                  env=_env(proxy.url, tmp_path, trust, None))
    assert proc.returncode == 1
    assert "downloading modules failed" in proc.stderr and "401" in proc.stderr, proc.stderr


def test_offline_builds_from_a_warm_cache_with_the_proxy_gone(app, ca, trust, tmp_path):
    private = GoProxy(ca, list(MODULES), USER, PASSWORD)
    env = _env(private.url, tmp_path, trust, _netrc(tmp_path, private.url))
    cache = tmp_path / "cache"
    first = leango("build", app, "--cache-dir", cache, "-q", "--oci-layout", tmp_path / "l1", env=env)
    private.close()
    offline = leango("build", app, "--cache-dir", cache, "-q", "--offline", "--oci-layout", tmp_path / "l2", env=env)
    assert offline.stdout == first.stdout  # the same digest


def test_a_warm_module_cache_skips_the_download_step(app, ca, trust, tmp_path):
    """Every module go.sum names is in the cache: no download step (no proxy request), and a
    module gone from the cache brings the step back."""
    private = GoProxy(ca, list(MODULES), USER, PASSWORD)
    try:
        env = _env(private.url, tmp_path, trust, _netrc(tmp_path, private.url))
        cache = tmp_path / "cache"
        first = leango("build", app, "--cache-dir", cache, "--oci-layout", tmp_path / "l1", env=env)
        assert "downloading modules" in first.stderr
        asked = len(private.requests)
        again = leango("build", app, "--cache-dir", cache, "--rebuild", "--oci-layout", tmp_path / "l2", env=env)
        assert "downloading modules" not in again.stderr and "compiling" in again.stderr
        assert len(private.requests) == asked
        assert again.stdout == first.stdout
        extracted = cache / "go" / "mod" / "leango.test" / "shout@v0.2.0"
        subprocess.run(["chmod", "-R", "u+w", str(extracted)], check=True)
        shutil.rmtree(extracted)
        third = leango("build", app, "--cache-dir", cache, "--rebuild", "--oci-layout", tmp_path / "l3", env=env)
        assert "downloading modules" in third.stderr and third.stdout == first.stdout
    finally:
        private.close()


def test_offline_with_a_cold_cache_names_the_missing_module(app, proxy, trust, tmp_path):
    proc = leango("build", app, "--cache-dir", tmp_path / "cold", "-q", "--offline", check=False,
                  env=_env(proxy.url, tmp_path, trust, _netrc(tmp_path, proxy.url)))
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "leango.test/" in lines[0] and "--offline" in lines[0], proc.stderr


@pytest.mark.network
def test_public_program_with_real_dependencies_through_the_go_module_proxy(tmp_path, cache_dir):
    """The one test that uses this machine's Go module proxy: github.com/google/uuid v1.6.0."""
    from support.paths import FIXTURES
    archive = tmp_path / "uuid.tar"
    env = {k: v for k, v in os.environ.items() if k.startswith("GO")} or None
    leango("build", FIXTURES / "uuid-app", "--cache-dir", cache_dir, "--oci-archive", archive, env=env)
    ran = Buildah(tmp_path / "b").run_image(f"oci-archive:{archive}", "/uuid-app")
    assert ran.stdout == "uuid 6a959d19-5f99-5f74-bc88-4e4a64b53b4f version VERSION_5\n"


def test_concurrent_runs_share_a_cold_module_cache(app, proxy, trust, tmp_path):
    """Two leango runs filling one module cache at once (the go command locks it): both build."""
    from support.cli import leango_argv
    env = {**os.environ, **_env(proxy.url, tmp_path, trust, _netrc(tmp_path, proxy.url))}
    procs = [subprocess.Popen([*leango_argv(), "build", str(app), "-q", "--cache-dir", str(tmp_path / "shared"),
                               "--oci-layout", str(tmp_path / f"l{i}")], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    results = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert results[0][0] == results[1][0] and results[0][0].startswith("sha256:")


PROXY_PASSWORD = "Pr0xy-Secret-abc"
_RECORDING_BUILDAH = """#!/bin/sh
# buildah that records its argv (one line a call) and its environment, then runs the real one.
printf '%s\\n' "$*" >> "{log}/argv"
env >> "{log}/env"
exec {real} "$@"
"""


@pytest.mark.parametrize("isolation", ["chroot", "none"])
def test_credentials_in_goproxy_and_proxy_urls_never_leave(app, proxy, trust, tmp_path, isolation):
    """GOPROXY=https://user:TOKEN@… authenticates the download, and neither it nor the userinfo of
    HTTPS_PROXY is on an argv, in a log line at any verbosity, an output, a record or a cache."""
    shim, log = tmp_path / "bin", tmp_path / "log"
    shim.mkdir()
    log.mkdir()
    (shim / "buildah").write_text(_RECORDING_BUILDAH.format(log=log, real=shutil.which("buildah")))
    (shim / "buildah").chmod(0o755)
    home, cache, archive = tmp_path / "home", tmp_path / "cache", tmp_path / "app.tar"
    home.mkdir()
    url = proxy.url.replace("https://", f"https://{USER}:{PASSWORD}@").replace("127.0.0.1", "localhost")
    env = {**_env(url, home, trust, None), "PATH": f"{shim}:{os.environ['PATH']}",
           # Go never sends loopback requests through a proxy: the download goes straight to GOPROXY.
           "HTTPS_PROXY": f"http://ci:{PROXY_PASSWORD}@127.0.0.1:9", "no_proxy": f"ci:{PROXY_PASSWORD}@x"}
    before = len(proxy.requests)
    outputs = []
    for verbosity in ("-v", "-vv", "-vvv"):
        proc = leango("build", app, "--cache-dir", cache, "--oci-archive", archive, "--json", "--rebuild",
                      "--isolation", isolation, verbosity, env=env)
        outputs.append(proc.stdout + proc.stderr)
        cache_mods = cache / "go" / "mod"
        subprocess.run(["chmod", "-R", "u+w", str(cache_mods)], check=True)
        shutil.rmtree(cache_mods)  # a cold module cache: every build downloads
    authorized = [a for _, a in proxy.requests[before:] if a]
    assert authorized and all(a == _basic(USER, PASSWORD) for a in authorized), "GOPROXY's userinfo was not used"
    assert any("downloading modules (GOPROXY=https://xxxxx@localhost:" in o for o in outputs), outputs[0]
    argv = (log / "argv").read_text() if (log / "argv").exists() else ""
    assert (isolation == "chroot") == ("run" in argv)
    for secret in (PASSWORD, PROXY_PASSWORD):
        assert secret not in argv, "a credential is on buildah's command line"
        for text in outputs:
            assert secret not in text
        for path, data in [(archive, archive.read_bytes()), *_all_bytes(cache)]:
            assert secret.encode() not in data, f"a credential is in {path}"
    if isolation == "chroot":  # the proxy's credentials reach the container through buildah's environment
        assert PROXY_PASSWORD in (log / "env").read_text()


def _basic(user: str, password: str) -> str:
    import base64
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_the_pushed_build_cache_carries_private_modules_code(app, proxy, trust, tmp_path, registry):
    """docs/cache.md warns that the cache repository must be no more readable than the source: the
    chunks --cache-to pushes hold the compiled code of private modules. Proven on the chunks
    themselves (the ones pushed, kept in the store)."""
    import zstandard
    home, cache = tmp_path / "home", tmp_path / "cache"
    home.mkdir()
    url = proxy.url.replace("127.0.0.1", "localhost")
    proc = leango("build", app, "--cache-dir", cache, "--oci-layout", tmp_path / "l",
                  "--cache-to", f"{registry.host}/cache/private:go",
                  env=_env(url, home, trust, _netrc(tmp_path, url)))
    assert "pushed the Go build cache" in proc.stderr
    chunks = list((cache / "gocache" / "blobs").iterdir())
    assert chunks
    found = b""
    for chunk in chunks:
        found += zstandard.ZstdDecompressor().stream_reader(chunk.open("rb")).read()
    assert b"leango.test/greet.Hello" in found  # the private module's function, compiled
    assert b"leango.test/nonexistent.Function" not in found  # the search can fail


def test_check_reproducible_downloads_into_empty_caches_and_leaves_none_behind(app, ca, trust, tmp_path):
    """--check-reproducible's second build starts from empty Go caches: the modules come again
    from the proxy (into a module cache Go makes read-only, removed after), the image is the same;
    with --offline the module cache is shared, and the check needs no proxy."""
    private = GoProxy(ca, list(MODULES), USER, PASSWORD)
    env = _env(private.url, tmp_path, trust, _netrc(tmp_path, private.url))
    cache = tmp_path / "cache"
    try:
        first = leango("build", app, "--cache-dir", cache, "-q", "--oci-layout", tmp_path / "l1", env=env)
        asked = len(private.requests)
        checked = leango("build", app, "--cache-dir", cache, "--check-reproducible", "--oci-layout", tmp_path / "l2",
                         env=env)
        assert checked.stdout == first.stdout and "reproducible: the second build gave the same" in checked.stderr
        assert any(p.endswith("greet/@v/v1.0.0.zip") for p, _ in private.requests[asked:]), "not downloaded again"
    finally:
        private.close()
    offline = leango("build", app, "--cache-dir", cache, "--check-reproducible", "--offline", "-q",
                     "--oci-layout", tmp_path / "l3", env=env)
    assert offline.stdout == first.stdout
    assert not list((cache / "work").glob("reproduce-*")), "the second build's caches were left behind"
