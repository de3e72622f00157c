"""The caller's Go environment, read the way the go command reads it.

The mounted toolchain's own `go env -json` runs on the host with the caller's
environment, so the environment and then the user's `go env -w` file (GOENV)
are honoured with Go's defaults: a machine whose GOPROXY points at an internal
mirror just works. Proxy variables (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, either
case) are passed as they are.

GOFLAGS that would undo leango's guarantees are refused: -toolexec and -overlay
(other code or other files in the build), -buildvcs=true (VCS state in the
binary) and -trimpath=false (host paths in the binary).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import SpecError, ToolchainError
from .runner import Runner
from .toolchain import Toolchain

GO_VARS = ("GOPROXY", "GONOPROXY", "GOPRIVATE", "GONOSUMDB", "GOSUMDB", "GOINSECURE", "GOFLAGS", "GOAUTH")
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy")
# What `go env` needs to find the user's settings file (os.UserConfigDir) and nothing more.
_LOOKUP_VARS = ("HOME", "XDG_CONFIG_HOME", "GOENV", *GO_VARS)
_REFUSED_FLAGS = {
    "-toolexec": "runs another program around every compiler and linker step",
    "-overlay": "replaces source files with files from elsewhere",
    "-buildvcs": "puts version-control state into the binary (leango sets -buildvcs=false)",
    "-trimpath": "leango builds with -trimpath so no host path reaches the binary",
}


@dataclass(frozen=True)
class GoEnv:
    values: tuple[tuple[str, str], ...]  # GO_VARS as the go command resolves them
    proxies: tuple[tuple[str, str], ...] = ()

    def get(self, key: str) -> str:
        return dict(self.values).get(key, "")


def check_goflags(goflags: str) -> str:
    """Refuse GOFLAGS entries that would undo leango's guarantees; return the value unchanged."""
    for flag in shlex.split(goflags):
        name, _, value = flag.lstrip("-").partition("=")
        key = "-" + name
        if key in ("-buildvcs", "-trimpath"):
            if (key == "-buildvcs" and value in ("", "true", "auto")) or (key == "-trimpath" and value == "false"):
                raise SpecError(f"GOFLAGS {flag} is not allowed: it {_REFUSED_FLAGS[key]}",
                                "remove it from GOFLAGS (go env -w GOFLAGS=...)")
        elif key in _REFUSED_FLAGS:
            raise SpecError(f"GOFLAGS {flag} is not allowed: it {_REFUSED_FLAGS[key]}",
                            "remove it from GOFLAGS (go env -w GOFLAGS=...)")
    return goflags


def read_go_env(runner: Runner, toolchain: Toolchain, environ: Mapping[str, str]) -> GoEnv:
    env = {k: v for k, v in environ.items() if k in _LOOKUP_VARS}
    env.update({"GOROOT": str(toolchain.goroot), "GOTOOLCHAIN": "local", "PATH": "/usr/bin:/bin"})
    res = runner.run([str(toolchain.go), "env", "-json", *GO_VARS], env=env)
    if not res.ok:
        raise ToolchainError(f"`go env` failed: {res.stderr.strip().splitlines()[-1] if res.stderr.strip() else ''}")
    try:
        data = json.loads(res.stdout)
    except ValueError as exc:
        raise ToolchainError(f"`go env -json` printed no JSON: {exc}") from exc
    values = tuple((k, str(data.get(k) or "")) for k in GO_VARS)
    check_goflags(dict(values)["GOFLAGS"])
    proxies = tuple((k, environ[k]) for k in PROXY_VARS if environ.get(k))
    return GoEnv(values, proxies)
