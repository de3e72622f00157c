"""Upload progress: on a terminal, per blob with bytes and rate (drawn by rich); silent otherwise."""

from __future__ import annotations

import os
import shlex
import subprocess

from support.cli import leango, leango_argv
from support.paths import FIXTURES
from support.tools import require


def test_progress_on_a_tty(registry, cache_dir, make_image):
    require("script")
    argv = [*leango_argv(), "build", str(FIXTURES / "hello-world"), "--tag",
            f"{registry.host}/progress/tty:v1", "--push", "--cache-dir", str(cache_dir)]
    # util-linux `script` gives the command a real pseudo-terminal.
    proc = subprocess.run(["script", "-qfec", shlex.join(argv), "/dev/null"], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ))
    assert proc.returncode == 0, proc.stdout
    import re
    # rich's display: one line per blob, its bytes of the total, and a rate once it has one
    assert re.search(r"upload [0-9a-f]{12} .*\d+(\.\d)? [kM]?B/\d+(\.\d)? [kM]?B", proc.stdout), proc.stdout
    assert re.search(r"B/s", proc.stdout), proc.stdout
    assert "write and upload: hello-world" in proc.stdout


def test_no_progress_without_a_tty_or_with_quiet(registry, cache_dir):
    for extra in ((), ("--quiet",)):
        proc = leango("build", FIXTURES / "hello-world", "--tag", f"{registry.host}/progress/pipe{len(extra)}:v1",
                      "--push", "--cache-dir", cache_dir, *extra)
        assert "%" not in proc.stderr and "\r" not in proc.stderr
        if extra:
            assert proc.stderr == ""
        else:
            assert "5 blob(s) uploaded" in proc.stderr  # the image's three, its SBOM's document and config
