"""go-containerregistry's in-memory registry (tests/support/refsreg, built by scripts/setup), with
the OCI 1.1 referrers API switched on or off, on 127.0.0.1."""

from __future__ import annotations

import subprocess

from .tools import require_go_tool, stop_process


class GoRegistry:
    def __init__(self, *, referrers: bool):
        self.referrers_api = referrers
        argv = [require_go_tool("refsreg"), "-addr", "127.0.0.1:0"] + (["-referrers"] if referrers else [])
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     start_new_session=True)
        line = self.proc.stdout.readline().strip() if self.proc.stdout else ""
        if not line:
            stop_process(self.proc)
            raise AssertionError("refsreg did not start (run scripts/setup)")
        self.host = line

    def stop(self) -> None:
        stop_process(self.proc)
