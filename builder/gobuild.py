"""The go commands run inside the build container, with their environments.

Three steps share one container: `go list` names the packages, `go mod download`
fetches modules through the caller's GOPROXY (trust, DNS and .netrc from the
host, read-only), and `go build` compiles with the network off (GOPROXY=off)
and the module cache mounted read-only.

Reproducibility: -trimpath removes host paths,
-buildvcs=false keeps VCS state out, `-buildid=` fixes the build id, and the
toolchain never fetches another toolchain (GOTOOLCHAIN=local).
"""

from __future__ import annotations

from ..oci import Platform
from .errors import SpecError
from .goenv import GoEnv
from .platform import go_env

GOROOT = "/usr/local/go"
GO = f"{GOROOT}/bin/go"
SRC = "/src"
OUT = "/out"
CACHE = "/cache"
TMP = "/tmp"
CA_FILE = "/run/leango/ca-certificates.crt"
NETRC = "/run/leango/netrc"
GOENV_FILE = "/run/leango/go.env"
BASE_LDFLAGS = "-s -w -buildid="
LIST_FIELDS = "ImportPath,Name,Dir,Error"

# Variables leango sets for every go command; --env may not override them.
CONTROLLED = {
    "GOROOT": "the toolchain is the one leango mounts",
    "PATH": "the container has the toolchain and nothing else",
    "HOME": "caches and temporary files live where leango mounts them",
    "TMPDIR": "caches and temporary files live where leango mounts them",
    "GOCACHE": "the build cache is leango's, per user (--cache-dir)",
    "GOMODCACHE": "the module cache is leango's, per user (--cache-dir)",
    "GOPATH": "the module cache is leango's, per user (--cache-dir)",
    "GOENV": "the Go environment is read from yours on the host",
    "CGO_ENABLED": "images are FROM scratch: binaries must be static (CGO_ENABLED=0)",
    "GOTOOLCHAIN": "the toolchain is the one leango mounts (GOTOOLCHAIN=local)",
    "GOWORK": "the module is built on its own (GOWORK=off)",
    "GOFLAGS": "set GOFLAGS in your environment or with `go env -w`; it is checked there",
    "GOOS": "use --platform",
    "GOARCH": "use --platform",
    "GOARM": "use --platform linux/arm/v6 or v7",
    "GOAMD64": "use --platform linux/amd64/v2 (v1..v4)",
    "GOPROXY": "set it in your environment or with `go env -w`: downloads use it, compiles run offline",
    "GONOPROXY": "set it in your environment or with `go env -w`",
    "GOPRIVATE": "set it in your environment or with `go env -w`",
    "GONOSUMDB": "set it in your environment or with `go env -w`",
    "GOSUMDB": "set it in your environment or with `go env -w`",
    "GOINSECURE": "set it in your environment or with `go env -w`",
    "GOAUTH": "set it in your environment or with `go env -w`",
    "SSL_CERT_FILE": "downloads trust the host's CA bundle (SSL_CERT_FILE on the host)",
    "SSL_CERT_DIR": "downloads trust the host's CA bundle (SSL_CERT_FILE on the host)",
    "NETRC": "set NETRC on the host; the file is mounted read-only for downloads only",
}


def _base_env(go: GoEnv) -> dict[str, str]:
    return {
        "GOROOT": GOROOT, "PATH": f"{GOROOT}/bin", "HOME": TMP, "TMPDIR": TMP,
        "GOCACHE": f"{CACHE}/go-build", "GOMODCACHE": f"{CACHE}/mod", "GOPATH": f"{CACHE}/gopath",
        "GOENV": "off", "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOWORK": "off",
        "GOFLAGS": go.get("GOFLAGS"), "GOPROXY": "off",
    }


def list_argv(patterns: tuple[str, ...], build_tags: tuple[str, ...] = ()) -> list[str]:
    """-find: name the packages without resolving imports, so nothing is downloaded yet."""
    tags = ["-tags", ",".join(build_tags)] if build_tags else []
    return [GO, "list", "-e", "-find", f"-json={LIST_FIELDS}", *tags, *patterns]


def cgo_files_argv(import_path: str, build_tags: tuple[str, ...] = ()) -> list[str]:
    tags = ["-tags", ",".join(build_tags)] if build_tags else []
    return [GO, "list", "-e", "-find", *tags, "-f", "{{join .CgoFiles \" \"}}", import_path]


def list_env(go: GoEnv, target: Platform, *, cgo: bool = False) -> dict[str, str]:
    return _base_env(go) | go_env(target) | ({"CGO_ENABLED": "1"} if cgo else {})


def download_argv() -> list[str]:
    return [GO, "mod", "download"]


def download_env(go: GoEnv, *, netrc: bool) -> dict[str, str]:
    """The download step's environment: the caller's Go settings come from GOENV_FILE
    (go_env_file), so that none of them (GOPROXY may carry a token) is on buildah's argv."""
    env = _base_env(go)
    del env["GOPROXY"]  # from the file: an environment variable would win over it
    env["GOENV"] = GOENV_FILE
    env["SSL_CERT_FILE"] = CA_FILE
    if netrc:
        env["NETRC"] = NETRC
    return env


def go_env_file(go: GoEnv) -> bytes:
    """The caller's Go settings in the go command's own `go env -w` file format (KEY=VALUE lines,
    cmd/go/internal/cfg), read through GOENV by the download step."""
    lines = []
    for key, value in go.values:
        if "\n" in value or "\r" in value:
            raise SpecError(f"{key} holds a line break")
        lines.append(f"{key}={value}\n")
    return "".join(lines).encode()


def build_argv(package: str, output_name: str, *, ldflags: str = "", build_tags: tuple[str, ...] = (),
               vendor: bool = False) -> list[str]:
    argv = [GO, "build", "-trimpath", "-buildvcs=false", "-ldflags", f"{BASE_LDFLAGS} {ldflags}".strip()]
    if vendor:
        argv.append("-mod=vendor")
    if build_tags:
        argv += ["-tags", ",".join(build_tags)]
    return [*argv, "-o", f"{OUT}/{output_name}", package]


def build_env(go: GoEnv, target: Platform, user_env: tuple[tuple[str, str], ...] = ()) -> dict[str, str]:
    """Compiles run with the network off: every module was downloaded before."""
    return _base_env(go) | go_env(target) | dict(user_env)
