"""The go tool names the packages: patterns, several commands, names as `go build` gives them,
digests independent of the checkout's directory; killed runs leave no container behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

from support.cli import buildah_state, leango, leango_argv, leango_containers, storage_flags
from support.paths import FIXTURES
from support.peers import Buildah


def test_cmd_pattern_gives_one_image_per_command(tmp_path, cache_dir):
    proc = leango("build", "./cmd/...", "--repo", "localhost:5000/team", "-t", "v1", "-t", "latest",
                  "--oci-layout", tmp_path / "layout", "--oci-archive", tmp_path / "{binary}.tar", "--json",
                  "--image-refs", tmp_path / "refs.txt", "--cache-dir", cache_dir, cwd=FIXTURES / "multi-cmd")
    builds = json.loads(proc.stdout)["builds"]
    # --image-refs: every REF@DIGEST, one a line, in the order of the builds.
    assert (tmp_path / "refs.txt").read_text().splitlines() == [r for b in builds for r in b["references"]]
    assert len((tmp_path / "refs.txt").read_text().splitlines()) == 4
    assert [(b["binary"], b["package"]) for b in builds] == [
        ("api", "example.com/multi/cmd/api"), ("worker", "example.com/multi/cmd/worker")]
    assert builds[0]["references"] == [f"localhost:5000/team/api:{t}@{builds[0]['digest']}" for t in ("v1", "latest")]
    for b in builds:
        archive = f"oci-archive:{tmp_path / b['binary']}.tar:localhost:5000/team/{b['binary']}:v1"
        ran = Buildah(tmp_path / "b").run_image(archive, f"/{b['binary']}")
        assert ran.stdout == f"Hello from {b['binary']}\n"
    # The base layer is shared, byte for byte.
    assert builds[0]["images"][0]["layers"][0] == builds[1]["images"][0]["layers"][0]


def test_image_refs_of_an_unnamed_image_is_empty_with_a_warning(tmp_path, cache_dir):
    proc = leango("build", FIXTURES / "hello-world", "--oci-layout", tmp_path / "l", "--image-refs",
                  tmp_path / "refs.txt", "--cache-dir", cache_dir)
    assert (tmp_path / "refs.txt").read_text() == ""
    assert "--image-refs" in proc.stderr and "no image has a reference" in proc.stderr
    proc = leango("build", FIXTURES / "hello-world", "--oci-layout", tmp_path / "l", "--image-refs",
                  tmp_path / "refs.txt" / "under-a-file", "--cache-dir", cache_dir, check=False)
    assert proc.returncode == 1 and "cannot write --image-refs" in proc.stderr


def test_several_sources_and_plain_output(cache_dir):
    proc = leango("build", "cmd/api", "./cmd/worker", "-q", "--cache-dir", cache_dir, "--repo", "r.example/t",
                  "--oci-layout", cache_dir / "multi-layout", cwd=FIXTURES / "multi-cmd")
    assert [line.split("@")[0] for line in proc.stdout.split()] == ["r.example/t/api:latest", "r.example/t/worker:latest"]


def test_a_pattern_without_main_packages_is_a_clear_error(cache_dir):
    proc = leango("build", "./internal/...", "--cache-dir", cache_dir, cwd=FIXTURES / "multi-cmd", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "matches no main package" in proc.stderr


def test_naming_several_images_needs_a_repo(cache_dir):
    proc = leango("build", "./cmd/...", "-t", "localhost:5000/x:v1", "--cache-dir", cache_dir,
                  cwd=FIXTURES / "multi-cmd", check=False)
    assert proc.returncode == 2 and "--repo" in proc.stderr


def test_major_version_suffix_is_skipped_in_the_binary_name(tmp_path, cache_dir):
    proc = leango("build", FIXTURES / "tool-v2", "--json", "--cache-dir", cache_dir, "--oci-archive", tmp_path / "t.tar")
    assert json.loads(proc.stdout)["binary"] == "tool"
    assert Buildah(tmp_path / "b").run_image(f"oci-archive:{tmp_path / 't.tar'}", "/tool").stdout == "tool v2\n"


def test_same_module_in_two_directories_gives_the_same_digest(tmp_path, cache_dir, hello):
    digests = []
    for name in ("src", "app"):
        copy = tmp_path / name
        shutil.copytree(FIXTURES / "hello-world", copy)
        proc = leango("build", ".", "--json", "--cache-dir", cache_dir, "--oci-layout", tmp_path / f"l-{name}",
                      cwd=copy)
        digests.append(json.loads(proc.stdout)["digest"])
    assert digests == [hello.result["digest"]] * 2


def test_a_fifo_as_source_fails_in_one_line_without_hanging(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    proc = leango("build", tmp_path / "pipe", "--cache-dir", tmp_path / "c", check=False, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"leango: error: source {tmp_path / 'pipe'} is a named pipe (FIFO), not a directory " \
        "(pass the directory of a Go main package, or a pattern such as ./cmd/...)"


def test_sigkill_mid_build_then_a_new_run_leaves_buildah_as_it_was(tmp_path):
    cold = tmp_path / "cold"
    before = buildah_state(cold)
    proc = subprocess.Popen([*leango_argv(), "build", str(FIXTURES / "https-get"), "--cache-dir",
                             str(cold), "-q", "--oci-layout", str(tmp_path / "l")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    while not leango_containers(cold):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no working container appeared"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # no finally, no signal handler: the containers stay
    proc.wait()
    left = len(leango_containers(cold))
    # A build may have two containers (go list beside the compile); every one of them is stale.
    assert left >= 1
    # Someone else's container in the same storage is never touched.
    subprocess.run(["buildah", "from", *storage_flags(cold), "--name", "not-leango-1234-0123abcd", "scratch"],
                   capture_output=True, text=True, check=True)
    try:
        out = leango("prune", "--cache-dir", cold, "--json")
        removed = json.loads(out.stdout)
        assert len(removed["containers"]) == left and removed["caches"] == []
        assert all(name.startswith("leango-") for name in removed["containers"])
        names = subprocess.run(["buildah", "containers", *storage_flags(cold), "--format", "{{.ContainerName}}"],
                               capture_output=True, text=True, check=True).stdout.split()
        assert names == ["not-leango-1234-0123abcd"]  # only the other container is left
    finally:
        subprocess.run(["buildah", "rm", *storage_flags(cold), "not-leango-1234-0123abcd"], capture_output=True)
    assert buildah_state(cold) == before


def test_the_next_build_removes_a_killed_runs_container(tmp_path, cache_dir):
    before = buildah_state(cache_dir)
    from leango.builder.containers import container_name
    name = container_name(pid=99999999)  # this boot and PID namespace, a process that is gone
    stale = subprocess.run(["buildah", "from", *storage_flags(cache_dir), "--name", name, "scratch"],
                           capture_output=True, text=True, check=True)
    assert stale.returncode == 0 and leango_containers(cache_dir) == [name]
    leango("build", FIXTURES / "hello-world", "-q", "--cache-dir", cache_dir, "--oci-layout", tmp_path / "l")
    assert buildah_state(cache_dir) == before
    assert leango_containers(cache_dir) == []


def test_timeout_bounds_the_work_in_the_container(tmp_path):
    before = buildah_state(tmp_path / "cold")
    proc = leango("build", FIXTURES / "https-get", "--timeout", "1", "--cache-dir", tmp_path / "cold", check=False)
    assert proc.returncode == 1 and "did not finish within --timeout 1 s" in proc.stderr
    assert buildah_state(tmp_path / "cold") == before


def test_prune_leaves_the_containers_of_other_pid_namespaces(tmp_path):
    """Two CI job containers sharing one storage see each other's processes as gone: a container
    named in another PID namespace (or boot) is never removed; this namespace's dead run's is."""
    from leango.builder.containers import container_name, run_scope
    cache = tmp_path / "shared"
    boot, pidns = run_scope()
    ours = container_name(pid=99999999)
    theirs = f"leango-{boot}-{pidns + 1}-99999999-1-0123abcd"
    for name in (ours, theirs):
        subprocess.run(["buildah", "from", *storage_flags(cache), "--name", name, "scratch"],
                       capture_output=True, text=True, check=True)
    try:
        out = leango("prune", "--cache-dir", cache)
        assert out.stdout == f"removed 1 stale container(s): {ours}\n"
        assert leango_containers(cache) == [theirs]
    finally:
        subprocess.run(["buildah", "rm", *storage_flags(cache), theirs], capture_output=True)
