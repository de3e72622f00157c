"""A main package below its module root, with ldflags and a custom binary name."""

import json

from support.cli import leango
from support.paths import FIXTURES
from support.peers import Buildah


def test_cmd_subdirectory_with_ldflags(tmp_path, cache_dir):
    archive = tmp_path / "greeter.tar"
    proc = leango("build", FIXTURES / "nested" / "cmd" / "greeter", "--binary-name", "greet",
                  "--ldflags", "-X main.version=v1.2.3", "--oci-archive", archive, "--json",
                  "--cache-dir", cache_dir, "--user", "1000:1000")
    assert json.loads(proc.stdout)["images"][0]["platform"] == "linux/amd64"
    ran = Buildah(tmp_path / "b").run_image(f"oci-archive:{archive}", "/greet")
    assert ran.stdout == "Greetings from nested v1.2.3\n"


def test_vendored_dependency_builds_offline(tmp_path, cache_dir):
    archive = tmp_path / "vendored.tar"
    leango("build", FIXTURES / "vendored", "--oci-archive", archive, "--cache-dir", cache_dir)
    ran = Buildah(tmp_path / "b").run_image(f"oci-archive:{archive}", "/vendored")
    assert ran.stdout == "Hello, vendored world\n"
