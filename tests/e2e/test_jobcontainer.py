"""leango inside CI job containers of the CI image (scripts/ci-image), run with podman as GitLab's
docker executor or a Kubernetes pod runs a job: never --privileged. Each either builds the host
build's digest or fails in one line naming the cause and the fix — never exit 2, never a traceback."""

from __future__ import annotations

import json

import pytest

from support.jobcontainer import build_ci_image, docker_like_profile, podman_run
from support.paths import FIXTURES

BUILD = "leango build /src/hello --json --cache-dir /tmp/cache --oci-layout /tmp/layout"
# What a job container's user gets when the CI image's id-mapping helpers are setuid (Debian's
# default) instead of carrying file capabilities.
SETUID_HELPERS = ("setcap -r /usr/bin/newuidmap; setcap -r /usr/bin/newgidmap; "
                  "chmod u+s /usr/bin/newuidmap /usr/bin/newgidmap; ")


@pytest.fixture(scope="module")
def ci_image():
    return build_ci_image()


@pytest.fixture(scope="module")
def docker_seccomp(tmp_path_factory):
    return docker_like_profile(tmp_path_factory.mktemp("seccomp") / "docker-like.json")


def _job(ci_image, script, **kw):
    proc = podman_run(ci_image, script, mounts={FIXTURES / "hello-world": "/src/hello"}, **kw)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode != 2, proc.stderr  # never "bad input" for what the machine refuses
    return proc


def _built(proc, hello):
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["digest"] == hello.result["digest"]
    return [line for line in proc.stderr.splitlines() if "--isolation none" in line]


def _one_line_failure(proc, cause):
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("leango: error: ")]
    assert len(errors) == 1 and cause in errors[0], proc.stderr
    assert "--isolation none" in errors[0]  # the fix is named


def test_root_with_podmans_defaults_builds_in_a_container(ci_image, hello):
    assert _built(_job(ci_image, BUILD), hello) == []  # chroot isolation: no fall-back


def test_root_under_dockers_seccomp_profile(ci_image, docker_seccomp, hello):
    _one_line_failure(_job(ci_image, f"{BUILD} --isolation chroot", seccomp=docker_seccomp),
                      "unshare(CLONE_NEWUSER) is denied")
    fallback = _built(_job(ci_image, BUILD, seccomp=docker_seccomp), hello)
    assert len(fallback) == 1 and "/run/.containerenv exists" in fallback[0]


def test_non_root_job_user_with_file_capability_helpers(ci_image, hello):
    assert _built(_job(ci_image, BUILD, user="1000"), hello) == []


def test_non_root_job_user_with_setuid_helpers(ci_image, hello):
    as_ci = "su ci -c '{}'"
    _one_line_failure(_job(ci_image, SETUID_HELPERS + as_ci.format(f"{BUILD} --isolation chroot")),
                      "newuidmap/newgidmap are denied")
    fallback = _built(_job(ci_image, SETUID_HELPERS + as_ci.format(BUILD)), hello)
    assert len(fallback) == 1 and "newuidmap/newgidmap are denied" in fallback[0]


def test_non_root_job_user_without_privilege_escalation(ci_image, hello):
    """no-new-privileges (Kubernetes' allowPrivilegeEscalation: false): the kernel grants the
    helpers' file capabilities no more than a setuid bit."""
    _one_line_failure(_job(ci_image, f"{BUILD} --isolation chroot", user="1000", no_new_privileges=True),
                      "newuidmap/newgidmap are denied")
    assert len(_built(_job(ci_image, BUILD, user="1000", no_new_privileges=True), hello)) == 1


def test_non_root_job_user_under_dockers_seccomp_profile(ci_image, docker_seccomp, hello):
    assert len(_built(_job(ci_image, BUILD, user="1000", seccomp=docker_seccomp), hello)) == 1


def test_isolation_none_in_a_job_container(ci_image, docker_seccomp, hello):
    proc = _job(ci_image, f"{BUILD} --isolation none", user="1000", seccomp=docker_seccomp)
    assert _built(proc, hello) == []  # asked for: no fall-back to announce
