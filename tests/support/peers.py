"""Real consumers of leango's outputs, each isolated in the test's own directories."""

from __future__ import annotations

import json
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from .tools import require, run, stop_process


def _short_dir() -> str:
    # podman/buildah refuse a runroot path longer than 50 characters.
    return tempfile.mkdtemp(prefix="lg-run-", dir="/tmp")


class Podman:
    """podman with its own storage (vfs), so tests never touch the machine's images."""

    def __init__(self, base: Path):
        require("podman")
        self.args = ["podman", "--root", str(base / "root"), "--runroot", _short_dir(),
                     "--storage-driver", "vfs"]

    def load(self, archive: Path) -> str:
        return run([*self.args, "load", "-i", str(archive)]).stdout

    def images(self) -> list[dict]:
        return json.loads(run([*self.args, "images", "--format", "json"]).stdout or "[]")

    def inspect(self, ref: str) -> dict:
        return json.loads(run([*self.args, "image", "inspect", ref]).stdout)[0]


class Buildah:
    """buildah with its own storage, used to run images (podman run does not work here)."""

    def __init__(self, base: Path):
        require("buildah")
        self.args = ["buildah", "--root", str(base / "root"), "--runroot", _short_dir(),
                     "--storage-driver", "vfs"]

    def run_image(self, source: str, *argv: str, check=True, tls=True) -> subprocess.CompletedProcess:
        tls_flag = [] if tls else ["--tls-verify=false"]
        ctr = run([*self.args, "from", "--quiet", *tls_flag, source]).stdout.strip().splitlines()[-1]
        try:
            cmd = [*self.args, "run", "--isolation", "chroot", ctr, "--", *argv]
            proc = run(cmd, check=False)
            if proc.returncode != 0 and "sealing memfd copy" in proc.stderr:
                proc = run(cmd, check=False)  # buildah's chroot flake: nothing ran, try once more
            if check and proc.returncode != 0:
                raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
            return proc
        finally:
            run([*self.args, "rm", ctr], check=False)


class Containerd:
    """A containerd on its own socket and state dirs, started and stopped by the test."""

    def __init__(self, base: Path):
        require("containerd")
        self.ctr = require("ctr")
        base.mkdir(parents=True, exist_ok=True)
        self.socket = base / "containerd.sock"
        config = base / "config.toml"
        config.write_text(
            'version = 2\n'
            f'root = "{base / "root"}"\nstate = "{base / "state"}"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            f'[grpc]\n  address = "{self.socket}"\n'
            f'[ttrpc]\n  address = "{self.socket}.ttrpc"\n'
            '[debug]\n  address = ""\n[metrics]\n  address = ""\n')
        self.log = open(base / "containerd.log", "w")
        self.proc = subprocess.Popen(["containerd", "--config", str(config)], stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while not self._ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"containerd did not start: {(base / 'containerd.log').read_text()[-2000:]}")
            time.sleep(0.1)

    def _ready(self) -> bool:
        if not self.socket.exists():
            return False
        return subprocess.run([self.ctr, "-a", str(self.socket), "version"],
                              capture_output=True).returncode == 0

    def ctr_cmd(self, *args: str) -> subprocess.CompletedProcess:
        return run([self.ctr, "-a", str(self.socket), *args])

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


def skopeo_inspect(transport_ref: str, raw=False, tls_verify=True, extra=()) -> dict:
    require("skopeo")
    args = ["skopeo", "inspect", *(["--raw"] if raw else []), *extra,
            *([] if tls_verify else ["--tls-verify=false"]), transport_ref]
    return json.loads(run(args).stdout)


def umoci_unpack(layout: Path, ref: str, bundle: Path) -> Path:
    require("umoci")
    run(["umoci", "unpack", "--rootless", "--image", f"{layout}:{ref}", str(bundle)])
    return bundle / "rootfs"


def extract(archive: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            # Our own archives: assert they are safe instead of trusting them.
            assert not member.name.startswith("/") and ".." not in member.name.split("/")
            assert member.isfile() or member.isdir(), member.name
        tar.extractall(dest)
    return dest
