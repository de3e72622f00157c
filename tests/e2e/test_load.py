"""--load podman and --load containerd: every platform straight into the store, read back by the
store's own tools, nothing left behind. Each test's podman uses storage of its own
(CONTAINERS_STORAGE_CONF, which podman and buildah both read), each containerd its own socket."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from support.cli import leango
from support.paths import FIXTURES
from support.tools import require

TWO = "linux/amd64,linux/arm64"
# This machine's podman runs containers with runc and rlimits no higher than its own.
RUN = ["run", "--rm", "--runtime", "runc", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]


@pytest.fixture
def storage(tmp_path) -> dict[str, str]:
    require("podman")
    conf = tmp_path / "storage.conf"
    conf.write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{tmp_path / "root"}"\n'
                    f'runroot = "{tmp_path / "run"}"\n')
    return {**os.environ, "CONTAINERS_STORAGE_CONF": str(conf)}


def tool(env, *argv: str, check=True) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(argv), env=env, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed: {proc.stderr}")
    return proc


def no_load_dirs(cache_dir: Path) -> bool:
    return not list((cache_dir / "work").glob("load-*"))


def test_podman_gets_every_platform_of_an_index(storage, cache_dir, index_layout):
    _, built = index_layout
    proc = leango("build", FIXTURES / "hello-world", "--platform", TWO, "--load", "podman", "--json",
                  "-t", "localhost/hello:v1", "--cache-dir", cache_dir, env=storage)
    result = json.loads(proc.stdout)
    assert result["digest"] == built["digest"]  # the image the layout has
    assert result["loaded"] == [{"store": "podman", "where": "podman",
                                 "references": [f"localhost/hello:v1@{built['digest']}"]}]
    assert result["outputs"] == {}  # no layout written by default when loading
    listed = json.loads(tool(storage, "podman", "manifest", "inspect", "localhost/hello:v1").stdout)
    assert sorted((m["platform"]["architecture"], m["digest"]) for m in listed["manifests"]) == \
        sorted((i["platform"].split("/")[1], i["digest"]) for i in built["images"])
    for image in built["images"]:  # each platform image is there, with leango's digest
        found = json.loads(tool(storage, "podman", "image", "inspect", f"localhost/hello@{image['digest']}").stdout)
        assert found[0]["Architecture"] == image["platform"].split("/")[1]
    # podman run and buildah from see it at once; the temporary layout's name is gone.
    assert tool(storage, "podman", *RUN, "localhost/hello:v1").stdout == "Hello world\n"
    ctr = tool(storage, "buildah", "from", "--quiet", "localhost/hello:v1").stdout.strip().splitlines()[-1]
    tool(storage, "buildah", "rm", ctr)
    names = [n for i in json.loads(tool(storage, "podman", "images", "--format", "json").stdout)
             for n in i.get("Names") or []]
    assert names == ["localhost/hello:v1"]
    assert no_load_dirs(cache_dir)


def test_podman_single_platform_default_name_and_reload(storage, cache_dir, hello):
    args = ["build", FIXTURES / "hello-world", "--load", "podman", "--json", "--cache-dir", cache_dir]
    result = json.loads(leango(*args, env=storage).stdout)
    assert result["digest"] == hello.result["digest"]
    assert result["loaded"][0]["references"] == [f"localhost/hello-world:latest@{result['digest']}"]
    found = json.loads(tool(storage, "podman", "image", "inspect", "localhost/hello-world:latest").stdout)[0]
    assert found["Digest"] == result["digest"] and found["Config"]["User"] == "65532:65532"
    # Loaded again (nothing changed): the same image keeps its name, no stray names appear.
    leango(*args, env=storage)
    names = [n for i in json.loads(tool(storage, "podman", "images", "--format", "json").stdout)
             for n in i.get("Names") or []]
    assert names == ["localhost/hello-world:latest"]
    assert no_load_dirs(cache_dir)


def test_containerd_gets_every_platform(containerd, cache_dir, index_layout):
    _, built = index_layout
    env = {**os.environ, "CONTAINERD_ADDRESS": str(containerd.socket)}
    proc = leango("build", FIXTURES / "hello-world", "--platform", TWO, "--load", "containerd=k8s.io",
                  "-t", "localhost/hello:v1", "-t", "localhost/hello:stable", "--json", "--cache-dir", cache_dir,
                  env=env)
    assert json.loads(proc.stdout)["loaded"][0]["where"] == "containerd (k8s.io)"
    # (the containerd of the session is shared: other tests' images may be there too)
    rows = [line.split() for line in containerd.ctr_cmd("-n", "k8s.io", "images", "ls").stdout.splitlines()[1:]]
    assert sorted((r[0], r[2], r[-2]) for r in rows if r[0].startswith("localhost/hello:")) == [
        ("localhost/hello:stable", built["digest"], "linux/amd64,linux/arm64"),
        ("localhost/hello:v1", built["digest"], "linux/amd64,linux/arm64")]
    # every platform's content, not only the host's: each manifest and config is in the store
    content = containerd.ctr_cmd("-n", "k8s.io", "content", "ls", "-q").stdout.split()
    assert {i["digest"] for i in built["images"]} | {i["config"] for i in built["images"]} <= set(content)
    # the default namespace got nothing
    assert not {"localhost/hello:v1", "localhost/hello:stable"} & set(containerd.ctr_cmd("images", "ls", "-q").stdout.split())


def test_load_refuses_what_it_cannot_do(cache_dir, tmp_path):
    proc = leango("build", FIXTURES / "hello-world", "--load", "docker", "--cache-dir", cache_dir, check=False)
    assert proc.returncode == 2 and "unknown --load target 'docker'" in proc.stderr
    # ctr missing: said before anything runs (podman, there, passes the same check)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "podman").symlink_to(require("podman"))
    for load in ("containerd", "podman"):
        proc = leango("build", FIXTURES / "hello-world", "--load", "podman", "--load", load, "--rebuild",
                      "--cache-dir", cache_dir, env={**os.environ, "PATH": str(bin_dir)}, check=False)
        assert proc.returncode == 2 and "compiling" not in proc.stderr
        said = "--load containerd=default: ctr is not on PATH" if load == "containerd" else "names one store twice"
        assert said in proc.stderr, proc.stderr
    # containerd not there: the address it tried, and the image's other outputs still written
    env = {**os.environ, "CONTAINERD_ADDRESS": str(tmp_path / "none.sock")}
    proc = leango("build", FIXTURES / "hello-world", "--load", "containerd", "--oci-layout", tmp_path / "layout",
                  "--cache-dir", cache_dir, env=env, check=False)
    assert proc.returncode == 1, proc.stderr
    assert f"ctr images import (containerd at {tmp_path / 'none.sock'}, namespace default) failed" in proc.stderr
    assert (tmp_path / "layout" / "index.json").exists()
