"""--check-reproducible (issue 18, part 5): every fixture builds to the same digest a second time,
in a fresh container with empty Go caches; one that embeds the build time fails, naming the file,
and writes nothing."""

from __future__ import annotations

import json
import os

import pytest

from support.cli import leango
from support.paths import FIXTURES
from support.tools import require

# Each buildable fixture, as the other tests build it (uuid-app needs the public module proxy: the
# one network test builds it; the local-proxy modules case is in test_modules.py).
CASES = {
    "hello-world": ((FIXTURES / "hello-world",), None),
    "tool-v2": ((FIXTURES / "tool-v2",), None),
    "vendored": ((FIXTURES / "vendored",), None),
    "https-get": ((FIXTURES / "https-get",), None),
    "multi-cmd": (("./cmd/...", "--repo", "localhost:5000/team"), FIXTURES / "multi-cmd"),
    "multimod": ((FIXTURES / "multimod" / "server",), None),
    "nested": ((FIXTURES / "nested" / "cmd" / "greeter",), None),
    "datafiles": ((FIXTURES / "datafiles", "--zoneinfo"), None),
    "buildinfo": ((FIXTURES / "buildinfo", "--build-tags", "netgo,leangotest"), None),
    "buildtime with SOURCE_DATE_EPOCH": ((FIXTURES / "buildtime", "--ldflags", "-X main.built={{ .Date }}"), None),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_fixture_is_reproducible(case, tmp_path, cache_dir):
    require("buildah")
    args, cwd = CASES[case]
    proc = leango("build", *args, "--check-reproducible", "--oci-layout", tmp_path / "layout", "--json",
                  "--cache-dir", cache_dir, cwd=cwd, env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000"})
    assert "reproducible: the second build gave the same" in proc.stderr
    digests = [b["digest"] for b in json.loads(proc.stdout).get("builds", [])] or [json.loads(proc.stdout)["digest"]]
    index = json.loads((tmp_path / "layout" / "index.json").read_text())
    assert {m["digest"] for m in index["manifests"]} == set(digests)


def test_a_fixture_embedding_the_build_time_fails_naming_the_file(tmp_path, cache_dir):
    require("buildah")
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    proc = leango("build", FIXTURES / "buildtime", "--ldflags", "-X main.built={{ .Date }}", "--check-reproducible",
                  "--oci-layout", tmp_path / "layout", "--tag", f"{'127.0.0.1:9'}/never/pushed:v1", "--push",
                  "--cache-dir", cache_dir, env=env, check=False)
    assert proc.returncode == 1, proc.stderr
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith("leango: error: not reproducible: a second build gave sha256:"), proc.stderr
    assert ": linux/amd64: layer 2 of 2 (" in error and "): /buildtime: its content differs (sha256 " in error
    assert "SOURCE_DATE_EPOCH" in error
    # Found before anything was written or pushed (the registry named does not even exist).
    assert not (tmp_path / "layout").exists()
    assert "pushing" not in proc.stderr
    # Without the check, the same build succeeds: it is the second build that differs.
    ok = leango("build", FIXTURES / "buildtime", "--ldflags", "-X main.built={{ .Date }}", "--oci-layout",
                tmp_path / "layout", "--cache-dir", cache_dir, env=env)
    assert ok.stdout.startswith("sha256:")
