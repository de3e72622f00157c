"""On a terminal, a build draws its stages and uploads (rich) with the log lines above; through a
pipe, or with --quiet, it prints the log lines alone, no control sequence."""

from __future__ import annotations

import os
import pty
import subprocess

from support.cli import leango, leango_argv
from support.paths import FIXTURES


def _on_a_terminal(args: list[str]) -> tuple[int, str, str]:
    """Run leango with stderr on a pseudo-terminal; (exit status, stdout, what the terminal got)."""
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"COLUMNS": "160", "TERM": "xterm"}
    proc = subprocess.Popen([*leango_argv(), *args], stdout=subprocess.PIPE, stderr=terminal, env=env)
    os.close(terminal)
    drawn = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal's other end closed
            break
        if not chunk:
            break
        drawn += chunk
    out = proc.stdout.read().decode()
    os.close(controller)
    return proc.wait(), out, drawn.decode(errors="replace")


def test_a_terminal_gets_the_stages_and_a_pipe_plain_lines(registry, cache_dir):
    ref = f"{registry.host}/progress/hello:v1"
    status, out, drawn = _on_a_terminal(["build", str(FIXTURES / "hello-world"), "--rebuild", "--push", "-t", ref,
                                         "--cache-dir", str(cache_dir)])
    assert status == 0, drawn
    assert out.startswith(ref + "@sha256:")
    assert "\x1b[" in drawn  # drawn, then cleared
    assert "compile: example.com/hello-world for linux/amd64" in drawn
    assert drawn.count("leango: compiling example.com/hello-world for linux/amd64") == 1  # the log line, whole
    assert "leango: pushed " in drawn
    # Through a pipe, and with --quiet on a terminal: no display.
    piped = leango("build", FIXTURES / "hello-world", "--rebuild", "--push", "-t", ref, "--cache-dir", cache_dir)
    assert "\x1b" not in piped.stderr and "leango: compiling example.com/hello-world" in piped.stderr
    status, _, quiet = _on_a_terminal(["build", str(FIXTURES / "hello-world"), "--rebuild", "--push", "-t", ref,
                                       "--cache-dir", str(cache_dir), "--quiet"])
    assert status == 0 and "\x1b" not in quiet and "compile:" not in quiet
