"""--isolation: none gives the chroot build's digest; where buildah cannot make a container, one
line names the cause and the fix, and auto falls back to none only inside a container.

The failures are buildah's own words, replayed by a stand-in `buildah` on PATH that logs every
call (the real job containers are in test_jobcontainer.py)."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from leango.builder.isolation import in_container
from support.cli import leango
from support.paths import FIXTURES

# buildah 1.28's output under Docker's default seccomp profile, and for a job user whose
# newuidmap is setuid (captured in podman job containers).
UNSHARE_DENIED = ("Error during unshare(CLONE_NEWUSER): Function not implemented\n"
                  'time="2026-12-02T17:38:18Z" level=error msg="(Unable to determine exit status)"\n')
IDMAP_DENIED = ('time="2026-12-02T17:38:34Z" level=warning msg="running newgidmap: exit status 1: newgidmap: '
                'write to gid_map failed: Operation not permitted\\n"\n'
                "error setting supplemental groups list: operation not permittedsubprocess exited with status 1\n"
                "Error: exit status 1\n")

_STANDIN = """#!/bin/sh
# buildah that fails at {step}: prints what the real one printed there, logs every call.
echo "$*" >> "{log}"
if [ "$1" = "{step}" ]; then cat "{stderr}" >&2; exit {code}; fi
exec {real} "$@"
"""


def _failing_buildah(tmp_path, step, stderr, code=125):
    shim = tmp_path / "bin"
    shim.mkdir()
    (tmp_path / "stderr.txt").write_text(stderr)
    (shim / "buildah").write_text(_STANDIN.format(step=step, log=tmp_path / "calls.log", stderr=tmp_path / "stderr.txt",
                                                  code=code, real=shutil.which("buildah")))
    (shim / "buildah").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "KUBERNETES_SERVICE_HOST"}
    return {**env, "PATH": f"{shim}:{os.environ['PATH']}"}


def _calls(tmp_path):
    log = tmp_path / "calls.log"
    return [line.split()[0] for line in log.read_text().splitlines()] if log.exists() else []


def test_isolation_none_gives_the_chroot_builds_digest_and_starts_no_container(hello, tmp_path):
    proc = leango("build", FIXTURES / "hello-world", "--isolation", "none", "--json", "--cache-dir", tmp_path / "c",
                  "--oci-layout", tmp_path / "l")
    assert json.loads(proc.stdout)["digest"] == hello.result["digest"]
    assert not (tmp_path / "c" / "containers").exists()  # buildah was never asked for storage


@pytest.mark.parametrize("step,stderr,cause", [
    ("from", UNSHARE_DENIED, "unshare(CLONE_NEWUSER) is denied"),
    ("run", IDMAP_DENIED, "newuidmap/newgidmap are denied"),
])
def test_where_buildah_cannot_make_a_container_one_line_names_cause_and_fix(tmp_path, step, stderr, cause):
    env = _failing_buildah(tmp_path, step, stderr)
    # chroot: no fall-back, wherever this runs (auto's choice is tested below and in test_isolation.py).
    proc = leango("build", FIXTURES / "hello-world", "--isolation", "chroot", "--cache-dir", tmp_path / "c",
                  "--oci-layout", tmp_path / "l", env=env, check=False)
    assert proc.returncode == 1, proc.stderr  # the machine's fault, not bad input (2)
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("leango: error: buildah cannot") and cause in lines[-1], proc.stderr
    assert "--isolation none" in lines[-1] and "go list" not in proc.stderr and "Traceback" not in proc.stderr
    assert all(line.startswith("leango: ") for line in lines)
    # Nothing runs in a container after the first such failure.
    assert _calls(tmp_path).count("run") == (1 if step == "run" else 0)
    assert not (tmp_path / "l").exists()


def test_auto_takes_the_job_container_for_the_throwaway_and_says_so(hello, tmp_path):
    env = _failing_buildah(tmp_path, "from", UNSHARE_DENIED) | {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    proc = leango("build", FIXTURES / "hello-world", "--json", "--cache-dir", tmp_path / "c",
                  "--oci-layout", tmp_path / "l", env=env)
    assert json.loads(proc.stdout)["digest"] == hello.result["digest"]
    warning = next(line for line in proc.stderr.splitlines() if "--isolation none" in line)
    why = in_container({"KUBERNETES_SERVICE_HOST": "10.0.0.1"})  # a marker file may be here as well
    assert "unshare(CLONE_NEWUSER)" in warning and f"as {why}," in warning
    assert _calls(tmp_path).count("run") == 0


def test_chroot_named_explicitly_never_falls_back(tmp_path):
    env = _failing_buildah(tmp_path, "from", UNSHARE_DENIED) | {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    proc = leango("build", FIXTURES / "hello-world", "--isolation", "chroot", "--cache-dir", tmp_path / "c",
                  "--oci-layout", tmp_path / "l", env=env, check=False)
    assert proc.returncode == 1 and "unshare(CLONE_NEWUSER) is denied" in proc.stderr
    assert not (tmp_path / "l").exists()


def test_isolation_from_the_environment(tmp_path):
    proc = leango("build", FIXTURES / "hello-world", "--cache-dir", tmp_path / "c", "--oci-layout", tmp_path / "l",
                  env={"LEANGO_ISOLATION": "sandbox"}, check=False)
    assert proc.returncode == 2 and "'sandbox' is not one of 'auto', 'chroot', 'none'" in proc.stderr
