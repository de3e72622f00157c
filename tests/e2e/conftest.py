"""End-to-end fixtures: the real CLI, real buildah, real Go."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.cli import HELLO_REF, buildah_state, leango
from support.paths import FIXTURES
from support.tools import require


@dataclass
class Built:
    out: Path
    layout: Path
    archive: Path
    tarball: Path
    result: dict
    stdout: str
    stderr: str
    buildah_before: tuple
    buildah_after: tuple


@pytest.fixture(scope="session")
def hello(tmp_path_factory, cache_dir) -> Built:
    require("buildah")
    out = tmp_path_factory.mktemp("hello")
    before = buildah_state(cache_dir)
    proc = leango("build", FIXTURES / "hello-world", "--tag", HELLO_REF,
                  "--oci-layout", out / "layout", "--oci-archive", out / "hello.oci.tar",
                  "--tarball", out / "hello.docker.tar", "--json", "--cache-dir", cache_dir)
    after = buildah_state(cache_dir)
    return Built(out, out / "layout", out / "hello.oci.tar", out / "hello.docker.tar",
                 json.loads(proc.stdout), proc.stdout, proc.stderr, before, after)


@pytest.fixture(scope="session")
def index_layout(tmp_path_factory, cache_dir):
    """A two-platform index, as a layout."""
    out = tmp_path_factory.mktemp("index")
    proc = leango("build", FIXTURES / "hello-world", "--platform", "linux/amd64,linux/arm64", "--json",
                  "--cache-dir", cache_dir, "--oci-layout", out / "layout", "-t", "localhost:5000/hello:v1")
    return out / "layout", json.loads(proc.stdout)
