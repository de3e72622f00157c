"""The whole build as an unprivileged user with subuid/subgid ranges.

As root, the test creates that user (and its ranges) and copies the project
into a directory the user owns: CI may keep the checkout where others cannot
read. As a non-root user, it runs as that user itself.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.cli import leango_argv
from support.paths import FIXTURES
from support.tools import require

USER = "leango-rootless"
SUBID_START, SUBID_COUNT = 300000, 65536


def _has_range(path: str, name: str) -> bool:
    try:
        return any(line.split(":")[0] == name for line in Path(path).read_text().splitlines())
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def user() -> pwd.struct_passwd:
    require("newuidmap")
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        if not (_has_range("/etc/subuid", me.pw_name) and _has_range("/etc/subgid", me.pw_name)):
            pytest.fail(f"user {me.pw_name} has no subuid/subgid range: add one to /etc/subuid and /etc/subgid")
        return me
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", USER], check=True)
    last = SUBID_START + SUBID_COUNT - 1
    if not _has_range("/etc/subuid", USER):
        subprocess.run(["usermod", "--add-subuids", f"{SUBID_START}-{last}", USER], check=True)
    if not _has_range("/etc/subgid", USER):
        subprocess.run(["usermod", "--add-subgids", f"{SUBID_START}-{last}", USER], check=True)
    return pwd.getpwnam(USER)


@pytest.fixture(scope="module")
def workdir(user, tmp_path_factory):
    """A copy of hello-world under another directory name, owned by the user, in a place it can reach;
    leango is the installed wheel."""
    base = Path(user.pw_dir) / f"leango-test-{os.getpid()}"
    shutil.rmtree(base, ignore_errors=True)
    shutil.copytree(FIXTURES / "hello-world", base / "src" / "checkout")
    for path in [base, *base.rglob("*")]:
        os.lchown(path, user.pw_uid, user.pw_gid)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def as_user(user, argv, workdir: Path) -> subprocess.CompletedProcess:
    env = {"HOME": user.pw_dir, "USER": user.pw_name, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
           "XDG_CACHE_HOME": str(workdir / "cache"),
           "LANG": "C.UTF-8"}
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", user.pw_name, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv]
        return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=600)
    return subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=600)


def test_rootless_build_push_and_run(user, workdir, hello, registry):
    probe = as_user(user, [sys.executable, "-c", "import leango, click, zstandard, go"], workdir)
    assert probe.returncode == 0, (
        f"{sys.executable} cannot be used by {user.pw_name}: make the virtual environment with "
        f"/usr/bin/python3 in a world-readable place (scripts/setup does)\n{probe.stderr}")
    archive = workdir / "out" / "hello.oci.tar"
    pushed_ref = f"{registry.host}/rootless/hello:v1"
    proc = as_user(user, [*leango_argv(), "build", "src/checkout",
                          "--tag", pushed_ref, "--push",
                          "--oci-archive", str(archive), "--json"], workdir)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    # Same inputs, another user, another directory: the same image.
    assert result["digest"] == hello.result["digest"]
    assert result["pushed"][0]["reference"] == f"{pushed_ref}@{result['digest']}"
    assert archive.stat().st_uid == user.pw_uid

    ctr = as_user(user, ["buildah", "from", "--quiet", f"oci-archive:{archive}"], workdir)
    assert ctr.returncode == 0, ctr.stderr
    name = ctr.stdout.strip().splitlines()[-1]
    try:
        ran = as_user(user, ["buildah", "run", "--isolation", "chroot", name, "--", "/hello-world"], workdir)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout == "Hello world\n"
    finally:
        as_user(user, ["buildah", "rm", name], workdir)
        as_user(user, ["buildah", "rmi", "--all", "--force"], workdir)
    left = as_user(user, ["buildah", "containers", "--quiet"], workdir)
    assert left.stdout.strip() == ""


def test_rootless_load_into_the_users_own_podman_storage(user, workdir, hello):
    """--load podman as the user: its own containers-storage, where its podman and buildah see it."""
    require("podman")
    proc = as_user(user, [*leango_argv(), "build", "src/checkout", "--load", "podman", "-t", "localhost/hello:rootless",
                          "--platform", "linux/amd64,linux/arm64", "--json"], workdir)
    assert proc.returncode == 0, proc.stderr
    built = json.loads(proc.stdout)
    amd64 = next(i["digest"] for i in built["images"] if i["platform"] == "linux/amd64")
    assert amd64 == hello.result["digest"]  # the same image as root's single-platform build
    try:
        listed = as_user(user, ["podman", "manifest", "inspect", "localhost/hello:rootless"], workdir)
        assert listed.returncode == 0, listed.stderr
        assert sorted(m["digest"] for m in json.loads(listed.stdout)["manifests"]) == \
            sorted(i["digest"] for i in built["images"])
        found = as_user(user, ["podman", "image", "inspect", "--format", "{{.Digest}} {{.User}}",
                               "localhost/hello:rootless"], workdir)
        assert found.returncode == 0, found.stderr
        assert found.stdout.split() == [amd64, "65532:65532"]
        ctr = as_user(user, ["buildah", "from", "--quiet", "localhost/hello:rootless"], workdir)
        assert ctr.returncode == 0, ctr.stderr
        name = ctr.stdout.strip().splitlines()[-1]
        ran = as_user(user, ["buildah", "run", "--isolation", "chroot", name, "--", "/hello-world"], workdir)
        as_user(user, ["buildah", "rm", name], workdir)
        assert ran.returncode == 0 and ran.stdout == "Hello world\n", ran.stderr
        # root's storage did not get it
        assert subprocess.run(["podman", "image", "exists", "localhost/hello:rootless"]).returncode == 1
    finally:
        as_user(user, ["podman", "rmi", "--all", "--force"], workdir)
