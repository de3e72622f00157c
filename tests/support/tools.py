"""Helpers to find real tools; a missing tool fails the test saying what to install."""

from __future__ import annotations

import shutil
import subprocess

import pytest

PACKAGES = {
    "buildah": "buildah uidmap", "skopeo": "skopeo", "podman": "podman", "ctr": "containerd",
    "containerd": "containerd", "umoci": "umoci", "docker-registry": "docker-registry",
    "openssl": "openssl", "newuidmap": "uidmap",
}


GO_TOOLS = {"oras": "oras.land/oras/cmd/oras@v1.3.6",
            "crane": "github.com/google/go-containerregistry/cmd/crane@v0.22.1",
            "syft": "github.com/anchore/syft/cmd/syft@v1.57.2",
            "cosign": "github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5",
            "registry": "github.com/distribution/distribution/v3/cmd/registry@v3.1.2",
            "refsreg": "tests/support/refsreg (go-containerregistry v0.22.1's pkg/registry)"}


def require_go_tool(tool: str) -> str:
    """A Go test peer that scripts/setup builds into $LEANGO_TOOLS/bin (default /opt/leango/tools/bin)."""
    import os
    from pathlib import Path
    path = Path(os.environ.get("LEANGO_TOOLS", "/opt/leango/tools")) / "bin" / tool
    if path.is_file():
        return str(path)
    found = shutil.which(tool)
    if found is None:
        pytest.fail(f"{tool} is not installed: run scripts/setup (go install {GO_TOOLS.get(tool, tool)})",
                    pytrace=False)
    return found


def go_module_file(module: str, version: str, path: str):
    """A file of a Go module scripts/setup downloaded to build a peer (its module cache, which Go
    verified against the checksum database): the official schemas those tools ship."""
    import os
    from pathlib import Path
    found = Path(os.environ.get("LEANGO_TOOLS", "/opt/leango/tools")) / "gomod" / f"{module}@{version}" / path
    if not found.is_file():
        pytest.fail(f"{found} is missing: run scripts/setup (it downloads {module}@{version})", pytrace=False)
    return found


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed: run scripts/setup "
                    f"(apt-get install {PACKAGES.get(tool, tool)})", pytrace=False)
    return path


def run(argv, *, check=True, timeout=300, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} failed ({proc.returncode}):\n"
                             f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM the process group started with start_new_session=True, then SIGKILL."""
    import os
    import signal
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
