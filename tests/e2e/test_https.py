"""fixtures/https-get in its image trusts a private CA only when given --ca-cert."""

import pytest

from support.cli import leango
from support.paths import FIXTURES
from support.peers import Buildah
from support.tlsca import HTTPSServer, make_ca


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    ca = make_ca(tmp_path_factory.mktemp("ca"))
    srv = HTTPSServer(ca)
    yield ca, srv
    srv.close()


def _build_and_run(tmp_path, cache_dir, url, *extra):
    archive = tmp_path / "https-get.tar"
    leango("build", FIXTURES / "https-get", "--oci-archive", archive, "--cache-dir", cache_dir, *extra)
    return Buildah(tmp_path / "b").run_image(f"oci-archive:{archive}", "/https-get", url, check=False)


def test_private_ca_is_trusted_with_ca_cert(server, tmp_path, cache_dir):
    ca, srv = server
    proc = _build_and_run(tmp_path, cache_dir, srv.url, "--ca-cert", ca.ca_cert)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "200 OK\nhello over TLS\n"


def test_without_ca_cert_verification_fails(server, tmp_path, cache_dir):
    _, srv = server
    proc = _build_and_run(tmp_path, cache_dir, srv.url)
    assert proc.returncode == 1
    assert "certificate signed by unknown authority" in proc.stderr
