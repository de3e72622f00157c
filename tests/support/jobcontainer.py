"""CI job containers for the tests: the CI image (scripts/ci-image), podman run as a GitLab docker
executor or a Kubernetes pod would run a job, and a seccomp profile that denies user namespaces
without CAP_SYS_ADMIN the way Docker's default profile does."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from .paths import REPO
from .tools import require

CI_IMAGE = "localhost/leango-ci:test"
# podman's own default profile (containers-common) allows namespaces; Docker's allows clone with
# namespace flags, unshare, setns and mount only with CAP_SYS_ADMIN, and answers clone3 ENOSYS
# (moby profiles/seccomp/default.json).
PODMAN_PROFILE = Path("/usr/share/containers/seccomp.json")
NAMESPACE_CALLS = ("clone", "clone3", "mount", "setns", "umount", "umount2", "unshare")
CLONE_NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET


def build_ci_image() -> str:
    require("buildah")
    proc = subprocess.run([str(REPO / "scripts" / "ci-image"), CI_IMAGE], capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"scripts/ci-image failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    assert proc.stdout.strip().splitlines()[-1] == CI_IMAGE, proc.stdout
    return CI_IMAGE


def docker_like_profile(path: Path) -> Path:
    """podman's default seccomp profile with Docker's rules for namespaces (and its EPERM default)."""
    profile = json.loads(PODMAN_PROFILE.read_text())
    for rule in profile["syscalls"]:
        if rule["action"] == "SCMP_ACT_ALLOW" and not (rule.get("includes") or rule.get("excludes") or rule.get("args")):
            rule["names"] = [n for n in rule["names"] if n not in NAMESPACE_CALLS]
    profile["defaultErrnoRet"] = 1
    profile["syscalls"] += [
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN"]},
         "args": [{"index": 0, "value": CLONE_NAMESPACE_FLAGS, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": list(NAMESPACE_CALLS), "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
    ]
    path.write_text(json.dumps(profile))
    return path


def podman_run(image: str, script: str, *, mounts: dict[Path, str], user: str = "0", seccomp: Path | None = None,
               no_new_privileges: bool = False, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`sh -c script` in a job container: podman's default capabilities, no --privileged.

    This machine's podman needs runc (crun refuses cgroup-v1 hybrid hosts) and rlimits no higher
    than the current ones (raising them needs CAP_SYS_RESOURCE, which the machine lacks)."""
    require("podman")
    argv = ["podman", "run", "--rm", "--runtime", "runc", "--ulimit", "nofile=4096:4096",
            "--ulimit", "nproc=4096:4096", "--user", user, "--workdir", "/tmp"]
    for host, target in mounts.items():
        argv += ["-v", f"{host}:{target}:ro"]
    if seccomp is not None:
        argv += ["--security-opt", f"seccomp={seccomp}"]
    if no_new_privileges:  # Kubernetes' allowPrivilegeEscalation: false
        argv += ["--security-opt", "no-new-privileges"]
    return subprocess.run([*argv, image, "sh", "-c", script], capture_output=True, text=True, timeout=timeout)
