"""End-to-end fixtures: the real CLI, real buildah, real Go."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, REPO
from tests.support.tools import require

HELLO_REF = "localhost:5000/hello:v1"


def leango(*args, env=None, cwd=None, timeout=600, check=True) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess, as a user would."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(REPO)
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "builder", *map(str, args)], cwd=cwd,
                          env=full_env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"leango {' '.join(map(str, args))} exited {proc.returncode}\n"
                             f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


def buildah_state() -> tuple[list[str], list[str]]:
    require("buildah")
    containers = subprocess.run(["buildah", "containers", "--quiet", "--all"], capture_output=True,
                                text=True, check=True).stdout.split()
    images = subprocess.run(["buildah", "images", "--quiet", "--all"], capture_output=True,
                            text=True, check=True).stdout.split()
    return sorted(containers), sorted(images)


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
    before = buildah_state()
    proc = leango("build", FIXTURES / "hello-world", "--tag", HELLO_REF,
                  "--oci-layout", out / "layout", "--oci-archive", out / "hello.oci.tar",
                  "--tarball", out / "hello.docker.tar", "--json", "--cache-dir", cache_dir)
    after = buildah_state()
    return Built(out, out / "layout", out / "hello.oci.tar", out / "hello.docker.tar",
                 json.loads(proc.stdout), proc.stdout, proc.stderr, before, after)
