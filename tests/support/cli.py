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


def leango_process(*args, env=None) -> subprocess.Popen:
    """leango started and left running (a matrix job beside others); communicate() for its output."""
    full_env = dict(os.environ)
    full_env.pop("PYTHONPATH", None)
    full_env.update(env or {})
    return subprocess.Popen([*leango_argv(), *map(str, args)], env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def storage_flags(cache_dir: Path) -> list[str]:
    """buildah's flags for the storage leango keeps under a --cache-dir (vfs, its own root)."""
    return ["--root", str(cache_dir / "containers" / "storage"), "--runroot", str(cache_dir / "containers" / "run"),
            "--storage-driver", "vfs"]


def buildah_state(*cache_dirs: Path) -> tuple[list[str], list[str]]:
    """Containers and images in the machine's default storage and in leango's storage under each
    cache dir (leango makes its working containers there)."""
    require("buildah")
    containers: list[str] = []
    images: list[str] = []
    for flags in [[], *(storage_flags(Path(d)) for d in cache_dirs if (Path(d) / "containers").is_dir())]:
        containers += subprocess.run(["buildah", "containers", *flags, "--quiet", "--all"], capture_output=True,
                                     text=True, check=True).stdout.split()
        images += subprocess.run(["buildah", "images", *flags, "--quiet", "--all"], capture_output=True,
                                 text=True, check=True).stdout.split()
    return sorted(containers), sorted(images)


def leango_containers(cache_dir: Path) -> list[str]:
    """The names of leango's working containers in the storage under cache_dir."""
    if not (cache_dir / "containers").is_dir():
        return []
    out = subprocess.run(["buildah", "containers", *storage_flags(cache_dir), "--format", "{{.ContainerName}}"],
                         capture_output=True, text=True, check=True).stdout
    return [n for n in out.split() if n.startswith("leango-")]


def compiled_binary(argv) -> Path | None:
    """For a `buildah run … go build -o /out/X` command line: where X is on the host (from the
    `-v host:/out:rw` mount), else None."""
    argv = list(argv)
    if argv[:2] != ["buildah", "run"] or "build" not in argv or "-o" not in argv:
        return None
    mounts = dict(reversed(a.rsplit(":", 1)[0].split(":", 1)) for a in argv[2:] if a.count(":") == 2)
    return Path(mounts["/out"]) / Path(argv[argv.index("-o") + 1]).relative_to("/out")
