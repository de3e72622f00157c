"""The go steps in one throwaway container: list the packages, download modules, compile.

Mounts are per step: the module source and the toolchain are always read-only;
the module cache is writable only while downloading, and read-only while
compiling with the network off; the CA bundle and .netrc are mounted for the
download step alone, so they never reach a cache, a binary or an image.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..oci import Platform
from . import gobuild
from .buildah import BuildahSession, Mount
from .containerize import AppBinary
from .errors import CompileError, DownloadError, SourceError, SpecError
from .goenv import GoEnv
from .isolation import HostSession
from .redact import redact
from .runner import Result
from .source import ModuleSources, binary_name, check_binary_name
from .toolchain import Toolchain

log = logging.getLogger(__name__)
# buildah's own closing lines after a failed command: noise for the user.
_BUILDAH_NOISE = re.compile(r"^(subprocess exited with status \d+|Error: exit status \d+|"
                            r"error running container: .*exit status \d+.*)$")


@dataclass(frozen=True)
class GoPackage:
    import_path: str
    name: str  # the Go package name
    dir: str  # inside the container, under gobuild.SRC
    error: str = ""


@dataclass(frozen=True)
class Target:
    package: GoPackage
    binary: str


@dataclass(frozen=True)
class Paths:
    """Host directories mounted into the container."""
    module: Path  # the source tree, mounted at /src (the module and its relative replacements)
    out: Path
    tmp: Path
    build_cache: Path
    mod_cache: Path
    ca_file: Path
    netrc: Path | None = None
    replacements: tuple[tuple[Path, str], ...] = ()  # `replace` modules outside the tree, read-only
    module_dir: str = gobuild.SRC  # where the container sees the module (inside the tree)
    go_env_file: Path | None = None  # the Go settings for the download step (gobuild.go_env_file)

    def mounts(self, toolchain: Toolchain, step: str) -> list[Mount]:
        mounts = [Mount(str(toolchain.goroot), gobuild.GOROOT), Mount(str(self.module), gobuild.SRC),
                  Mount(str(self.tmp), gobuild.TMP, False),
                  Mount(str(self.build_cache), f"{gobuild.CACHE}/go-build", False),
                  Mount(str(self.mod_cache), f"{gobuild.CACHE}/mod", readonly=step != "download"),
                  *(Mount(str(host), target) for host, target in self.replacements)]
        if step == "download":
            mounts.append(Mount(str(self.ca_file), gobuild.CA_FILE))
            if self.go_env_file is not None:
                mounts.append(Mount(str(self.go_env_file), gobuild.GOENV_FILE))
            if self.netrc is not None:
                mounts.append(Mount(str(self.netrc), gobuild.NETRC))
        if step == "build":
            mounts.append(Mount(str(self.out), gobuild.OUT, False))
        return mounts


def clean_output(text: str) -> str:
    return "\n".join(l for l in text.strip().splitlines() if not _BUILDAH_NOISE.match(l.strip())).strip()


def parse_list(stdout: str) -> list[GoPackage]:
    """`go list -json` prints a stream of JSON objects."""
    decoder, pos, out = json.JSONDecoder(), 0, []
    text = stdout.strip()
    while pos < len(text):
        obj, end = decoder.raw_decode(text, pos)
        err = (obj.get("Error") or {}).get("Err", "")
        out.append(GoPackage(obj.get("ImportPath", ""), obj.get("Name", ""), obj.get("Dir", ""), err))
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class GoSteps:
    def __init__(self, session: BuildahSession | HostSession, toolchain: Toolchain, go: GoEnv, paths: Paths,
                 build_tags: tuple[str, ...] = ()):
        self.session, self.toolchain, self.go, self.paths = session, toolchain, go, paths
        self.build_tags = build_tags

    def _run(self, step: str, argv: list[str], env: dict[str, str]) -> Result:
        return self.session.run(argv, mounts=self.paths.mounts(self.toolchain, step), env=env,
                                workdir=self.paths.module_dir)

    def main_packages(self, sources: ModuleSources, platform: Platform) -> list[GoPackage]:
        """The main packages the patterns name; a named non-main package or an empty match is an error."""
        res = self._run("list", gobuild.list_argv(sources.patterns, self.build_tags),
                        gobuild.list_env(self.go, platform))
        if not res.ok and not res.stdout.strip():
            raise SourceError(f"go list failed: {self._inside(clean_output(res.stderr))}")
        module_dir = self.paths.module_dir
        explicit = {f"{module_dir}/{p[2:]}".rstrip("/.") if p != "." else module_dir
                    for p in sources.patterns if not p.endswith("...")}
        found = []
        for pkg in parse_list(res.stdout):
            if pkg.error and not pkg.name:
                raise SourceError(f"{pkg.import_path}: {self._inside(pkg.error)}")
            if pkg.error and "build constraints exclude all Go files" in pkg.error:
                raise self.cgo_error(pkg, platform, f"no Go files to build in {pkg.import_path}")
            if pkg.name == "main":
                found.append(pkg)
            elif pkg.dir in explicit:
                raise SourceError(f"{pkg.import_path} is not a main package (package {pkg.name})",
                                  "leango builds commands: name a directory with `package main`, or a pattern "
                                  "such as ./cmd/...")
        if not found:
            raise SourceError(f"{' '.join(sources.patterns)} matches no main package in {sources.module_root}",
                              "leango builds commands (package main)")
        return found

    def _inside(self, message: str) -> str:
        """go's messages name container paths: show them relative to the module."""
        for prefix in dict.fromkeys((self.paths.module_dir, gobuild.SRC)):
            message = message.replace(f"{prefix}/", "").replace(prefix, ".")
        return message

    def cgo_error(self, pkg: GoPackage, platform: Platform, message: str) -> CompileError:
        res = self._run("list", gobuild.cgo_files_argv(pkg.import_path, self.build_tags),
                        gobuild.list_env(self.go, platform, cgo=True))
        files = res.stdout.split() if res.ok else []
        hint = ""
        if files:
            hint = (f"{', '.join(files)} import \"C\"; leango builds static binaries with CGO_ENABLED=0, "
                    "so use pure-Go code (e.g. -tags netgo,osusergo) instead of cgo")
        return CompileError(message, hint)

    def download(self) -> None:
        """`go mod download`: the modules the main module requires, through the caller's GOPROXY."""
        log.info("downloading modules (GOPROXY=%s)", redact(self.go.get("GOPROXY") or "off"))
        # The Go settings (GOPROXY may carry a token) reach the go command through a GOENV file
        # mounted for this step, the proxy variables through buildah's own environment: neither
        # is on an argv, where every local user could read it.
        res = self.session.run(gobuild.download_argv(), mounts=self.paths.mounts(self.toolchain, "download"),
                               env=gobuild.download_env(self.go, netrc=self.paths.netrc is not None),
                               workdir=self.paths.module_dir, hidden_env=dict(self.go.proxies))
        if not res.ok:
            raise DownloadError(f"downloading modules failed: {redact(_first_go_error(res.stderr or res.stdout))}",
                                "check GOPROXY, the network and, for private modules, GOPRIVATE/GONOSUMDB "
                                "and your .netrc")

    def compile(self, target: Target, platform: Platform, *, ldflags: str, env: tuple[tuple[str, str], ...],
                vendor: bool, offline: bool) -> AppBinary:
        rel = f"{str(platform).replace('/', '-')}/{target.binary}"
        log.info("compiling %s for %s with %s", target.package.import_path, platform, self.toolchain.version)
        argv = gobuild.build_argv(target.package.import_path, rel, ldflags=ldflags, build_tags=self.build_tags,
                                  vendor=vendor)
        res = self._run("build", argv, gobuild.build_env(self.go, platform, env))
        if not res.ok:
            output = clean_output(res.stderr or res.stdout)
            missing = _missing_module(output)
            if missing:
                raise DownloadError(
                    f"module {missing} is not in the module cache" + (" (--offline)" if offline else ""),
                    "run once without --offline to download it" if offline else "")
            raise self.cgo_error(target.package, platform, f"go build failed for {platform}:\n{output}")
        return AppBinary(target.binary, self.paths.out / rel, platform)


_REQUIRE = re.compile(r"^\s*require\b", re.M)
_MODULE_PATH = re.compile(r"[A-Za-z0-9._~+/-]+")


def modules_cached(module_root: Path, mod_cache: Path) -> bool:
    """True when `go mod download` would have nothing to do: go.mod requires no module, or every
    module go.sum names is in the module cache (extracted, and its go.mod file). `go build` still
    checks each one against go.sum; when in doubt (no go.sum, a line it cannot read), download."""
    try:
        gomod = (module_root / "go.mod").read_text()
    except (OSError, UnicodeDecodeError):
        return False
    if not _REQUIRE.search(gomod):
        return True
    try:
        lines = [line.split() for line in (module_root / "go.sum").read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError):
        return False
    if not lines:
        return False
    for fields in lines:
        if len(fields) != 3 or not all(_MODULE_PATH.fullmatch(f) and ".." not in f.split("/") for f in fields[:2]):
            return False
        path, version = _escape(fields[0]), _escape(fields[1])
        if version.endswith("/go.mod"):
            if not (mod_cache / "cache" / "download" / path / "@v" / f"{version[:-7]}.mod").is_file():
                return False
        elif not (mod_cache / f"{path}@{version}").is_dir():
            return False
    return True


def _escape(text: str) -> str:
    """The module cache's case encoding: an upper-case letter is '!' and its lower case."""
    return re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), text)


def targets(packages: list[GoPackage], binary_override: str = "",
            names: Mapping[str, str] | None = None) -> list[Target]:
    """Each main package and its binary's name: binary_override (one package), else names (by
    import path: leango.toml's binary-name), else as go build names it."""
    if binary_override and len(packages) > 1:
        raise SpecError("--binary-name names one binary; the sources hold several main packages: "
                        + ", ".join(p.import_path for p in packages))
    names = names or {}
    out = [Target(p, check_binary_name(binary_override or names.get(p.import_path) or binary_name(p.import_path)))
           for p in packages]
    seen: dict[str, str] = {}
    for t in out:
        if t.binary in seen:
            raise SourceError(f"{seen[t.binary]} and {t.package.import_path} would both be named {t.binary}",
                              "build them separately with --binary-name")
        seen[t.binary] = t.package.import_path
    return out


def _first_go_error(output: str) -> str:
    lines = [l for l in clean_output(output).splitlines() if l.strip()]
    chosen = next((l for l in lines if l.startswith("go: ")), lines[0] if lines else "(no output)")
    return chosen.removeprefix("go: ")


# With the network off, a module missing from the cache shows as a lookup refused by
# GOPROXY=off, or as an attempt to download it into the read-only cache.
_MISSING = re.compile(r"(\S+@v\S+?):?\s+module lookup disabled by GOPROXY=off|"
                      r"module (\S+): .*module lookup disabled by GOPROXY=off|"
                      r"go: downloading (\S+) (v\S+)")


def _missing_module(output: str) -> str:
    match = _MISSING.search(output)
    if not match:
        return ""
    if match.group(3):
        return f"{match.group(3)}@{match.group(4)}"
    return match.group(1) or match.group(2)
