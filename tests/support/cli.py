"""Run the installed `leango` console script, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.tools import require

HELLO_REF = "localhost:5000/hello:v1"


def leango_argv() -> list[str]:
    """The console script installed beside the interpreter running the tests (the wheel's)."""
    script = Path(sys.executable).parent / "leango"
    if not script.is_file():
        raise AssertionError(f"{script} is missing: install leango's wheel into this environment "
                             "(scripts/setup)")
    return [str(script)]


def leango(*args, env=None, cwd=None, timeout=600, check=True, input=None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    full_env.pop("PYTHONPATH", None)
    full_env.update(env or {})
    proc = subprocess.run([*leango_argv(), *map(str, args)], cwd=cwd, env=full_env, input=input,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"leango {' '.join(map(str, args))} exited {proc.returncode}\n"
                             f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


def buildah_state() -> tuple[list[str], list[str]]:
    require("buildah")
    containers = subprocess.run(["buildah", "containers", "--quiet", "--all"], capture_output=True,
                                text=True, check=True).stdout.split()
    images = subprocess.run(["buildah", "images", "--quiet", "--all"], capture_output=True,
                            text=True, check=True).stdout.split()
    return sorted(containers), sorted(images)
