"""A real CNCF distribution registry on 127.0.0.1: Debian's docker-registry (distribution 2.8), or
distribution v3 (scripts/setup builds it)."""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from .tools import require, require_go_tool, run, stop_process

USER, PASSWORD = "ci-user", "s3cret-Pa55word"  # the htpasswd account of the auth tests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RealRegistry:
    def __init__(self, base: Path, *, tls: tuple[Path, Path] | None = None,
                 htpasswd: Path | None = None, delete: bool = True, v3: bool = False):
        # The same configuration file serves both: v3 reads 2.8's keys.
        self.binary = require_go_tool("registry") if v3 else require("docker-registry")
        self.name = "distribution v3" if v3 else "docker-registry"
        base.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.tls = tls
        lines = ["version: 0.1", "log:", "  level: warn", "  accesslog:", "    disabled: true",
                 "storage:", "  filesystem:", f"    rootdirectory: {base / 'data'}",
                 "  delete:", f"    enabled: {'true' if delete else 'false'}", "http:", f"  addr: {self.host}"]
        if tls:
            lines += ["  tls:", f"    certificate: {tls[0]}", f"    key: {tls[1]}"]
        if htpasswd:
            lines += ["auth:", "  htpasswd:", "    realm: leango-test", f"    path: {htpasswd}"]
        self.config = base / "config.yml"
        self.config.write_text("\n".join(lines) + "\n")
        self.log_path = base / "registry.log"
        self._start()

    def _start(self) -> None:
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen([self.binary, "serve", str(self.config)], stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready()

    def restart(self) -> None:
        """Stop the process and start it again on the same port and storage (a registry upgrade)."""
        self.stop()
        self._start()

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def _wait_ready(self) -> None:
        ctx = ssl._create_unverified_context() if self.tls else None  # readiness only
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{self.scheme}://{self.host}/v2/", timeout=1, context=ctx)
                return
            except urllib.error.HTTPError:
                return  # 401: up, and asking for credentials
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"{self.name} did not start: {self.log_path.read_text()[-2000:]}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


def make_htpasswd(path: Path, user: str, password: str) -> Path:
    require("htpasswd")
    out = run(["htpasswd", "-Bbn", user, password]).stdout
    path.write_text(out)
    return path


def skopeo_registry_args(reg: RealRegistry, authfile: Path | None = None, ca_dir: Path | None = None) -> list[str]:
    args = []
    if not reg.tls:
        args.append("--tls-verify=false")
    elif ca_dir:
        args.append(f"--cert-dir={ca_dir}")
    if authfile:
        args.append(f"--authfile={authfile}")
    return args
