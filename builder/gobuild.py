"""The `go build` argv and environment run inside the build container.

Reproducibility (design principle 10): -trimpath removes host paths,
-buildvcs=false keeps VCS state out, `-buildid=` fixes the build id, and the
toolchain never downloads anything (GOTOOLCHAIN=local, GOPROXY=off).
"""

from __future__ import annotations

from ..oci import Platform
from .platform import go_env

GOROOT = "/usr/local/go"
SRC = "/src"
OUT = "/out"
CACHE = "/cache"
TMP = "/tmp"
BASE_LDFLAGS = "-s -w -buildid="


def go_build_argv(package: str, output_name: str, *, ldflags: str = "",
                  build_tags: tuple[str, ...] = ()) -> list[str]:
    argv = [f"{GOROOT}/bin/go", "build", "-trimpath", "-buildvcs=false",
            "-ldflags", f"{BASE_LDFLAGS} {ldflags}".strip()]
    if build_tags:
        argv += ["-tags", ",".join(build_tags)]
    return argv + ["-o", f"{OUT}/{output_name}", package]


def go_build_env(target: Platform, user_env: tuple[tuple[str, str], ...] = ()) -> dict[str, str]:
    env = {
        "GOROOT": GOROOT,
        "PATH": f"{GOROOT}/bin",
        "HOME": TMP,
        "TMPDIR": TMP,
        "GOCACHE": f"{CACHE}/go-build",
        "GOMODCACHE": f"{CACHE}/mod",
        "GOPATH": f"{CACHE}/gopath",
        "CGO_ENABLED": "0",
        "GOTOOLCHAIN": "local",
        "GOPROXY": "off",
        "GOWORK": "off",
        "GOFLAGS": "",
    }
    env.update(go_env(target))
    env.update(dict(user_env))  # the user's --env adds to (and may override) ours
    return env
