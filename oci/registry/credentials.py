"""Find registry credentials the way docker, podman, buildah and skopeo do.

Sources, most important first (containers-auth.json(5), docker config.json):
  1. containers auth.json files: $REGISTRY_AUTH_FILE, else ${XDG_RUNTIME_DIR}/containers/auth.json,
     then ~/.config/containers/auth.json;
  2. docker config: $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
Within one file: credHelpers[host] > credsStore > auths[key]. auth.json keys may
name a namespace ("host/team/app"): the most specific key wins. A configured
helper that is missing is an error for that host — credentials are never sent
elsewhere instead (CVE-2021-41092).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RegistryError

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
_HUB_ALIASES = {"index.docker.io", "registry-1.docker.io", "docker.io"}


@dataclass(frozen=True)
class Credential:
    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)  # OAuth2 refresh token
    registry_token: str = field(default="", repr=False)  # a bearer token used as is

    @property
    def anonymous(self) -> bool:
        return not (self.username or self.password or self.identity_token or self.registry_token)

    def __repr__(self) -> str:  # never show secrets, even in a traceback
        return f"Credential(username={self.username!r}, secret={'***' if not self.anonymous else ''!r})"


ANONYMOUS = Credential()


@dataclass(frozen=True)
class CredentialSources:
    auth_files: tuple[Path, ...] = ()
    docker_config: Path | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], home: Path, uid: int) -> CredentialSources:
        return cls(tuple(auth_file_paths(environ, home, uid, for_write=False)),
                   docker_config_path(environ, home))


def auth_file_paths(environ: Mapping[str, str], home: Path, uid: int, *, for_write: bool) -> list[Path]:
    """containers/image's auth.json locations; the first is where `login` writes."""
    if environ.get("REGISTRY_AUTH_FILE"):
        return [Path(environ["REGISTRY_AUTH_FILE"])]
    paths = []
    if environ.get("XDG_RUNTIME_DIR"):
        paths.append(Path(environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    elif uid == 0:
        paths.append(Path("/run/containers/0/auth.json"))
    if not for_write or not paths:
        config_home = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
        paths.append(config_home / "containers" / "auth.json")
    return paths


def docker_config_path(environ: Mapping[str, str], home: Path) -> Path:
    base = Path(environ["DOCKER_CONFIG"]) if environ.get("DOCKER_CONFIG") else home / ".docker"
    return base / "config.json"


def normalise_key(key: str, *, keep_path: bool) -> str:
    """'https://host:5000/v1/' → 'host:5000'; Docker Hub's legacy key → 'docker.io'."""
    for prefix in ("https://", "http://"):
        if key.startswith(prefix):
            key = key[len(prefix):]
    key = key.rstrip("/")
    host, _, path = key.partition("/")
    if host in _HUB_ALIASES:
        host, path = "docker.io", "" if path in ("v1", "v2") else path
    return f"{host}/{path}" if keep_path and path else host


def _candidates(registry: str, repository: str) -> list[str]:
    parts = repository.split("/")
    return [f"{registry}/{'/'.join(parts[:i])}" for i in range(len(parts), 0, -1)] + [registry]


def _decode_auth(entry: dict, where: str) -> Credential:
    for key in ("identitytoken", "registrytoken", "auth", "username", "password"):
        if entry.get(key) is not None and not isinstance(entry[key], str):
            raise RegistryError(f"{where}: {key!r} is not a string")
    if entry.get("identitytoken"):
        return Credential(username=entry.get("username") or "", identity_token=entry["identitytoken"])
    if entry.get("registrytoken"):
        return Credential(registry_token=entry["registrytoken"])
    if entry.get("auth"):
        try:
            user, sep, password = base64.b64decode(entry["auth"]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            # Not chained: a UnicodeDecodeError carries the decoded bytes, i.e. the password.
            raise RegistryError(f"{where}: malformed 'auth' value") from None
        if not sep:
            raise RegistryError(f"{where}: malformed 'auth' value (expected base64 of user:password)")
        return Credential(user, password)
    if entry.get("username") and entry.get("password"):
        return Credential(entry["username"], entry["password"])
    return ANONYMOUS


HelperRunner = Callable[[list[str], str], "subprocess.CompletedProcess[str]"]


HELPER_TIMEOUT = 60.0  # seconds a credential helper may take (one waiting on a prompt never ends)


def run_helper(argv: list[str], stdin: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=HELPER_TIMEOUT, check=False)


def _from_helper(helper: str, registry: str, run: HelperRunner) -> Credential:
    binary = f"docker-credential-{helper}"
    server = DOCKER_HUB_KEY if registry == "docker.io" else registry
    try:
        proc = run([binary, "get"], server)
    except FileNotFoundError as exc:
        raise RegistryError(f"credential helper {binary} for {registry} is not installed or not on PATH; "
                            "no credentials were sent") from exc
    except subprocess.TimeoutExpired as exc:
        raise RegistryError(f"credential helper {binary} for {registry} timed out") from exc
    if proc.returncode != 0:
        if "credentials not found" in (proc.stdout + proc.stderr).lower():
            return ANONYMOUS
        raise RegistryError(f"credential helper {binary} failed for {registry} (exit {proc.returncode})")
    try:
        data = json.loads(proc.stdout)
        username, secret = data["Username"], data["Secret"]
    except (ValueError, KeyError, TypeError):
        # Not chained: a JSONDecodeError holds the helper's whole output, secret included.
        raise RegistryError(f"credential helper {binary} returned malformed output for {registry}") from None
    if username == "<token>":
        return Credential(identity_token=secret)
    return Credential(username, secret)


def _load(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise RegistryError(f"cannot read credentials file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise RegistryError(f"credentials file {path} is not a JSON object")
    return data


def _from_file(data: dict, path: Path, registry: str, repository: str, keep_path: bool,
               run: HelperRunner) -> Credential | None:
    for key, kind in (("credHelpers", dict), ("credsStore", str), ("auths", dict)):
        if data.get(key) and not isinstance(data[key], kind):
            raise RegistryError(f"{path}: {key!r} is not a JSON {'object' if kind is dict else 'string'}")
    helpers = {normalise_key(k, keep_path=False): v for k, v in (data.get("credHelpers") or {}).items()}
    if registry in helpers:
        if not isinstance(helpers[registry], str) or not helpers[registry]:
            raise RegistryError(f"{path}: the credential helper for {registry} is not a name")
        return _from_helper(helpers[registry], registry, run)
    if data.get("credsStore"):
        cred = _from_helper(data["credsStore"], registry, run)
        if not cred.anonymous:
            return cred
    auths: dict[str, Any] = {}
    for key, entry in (data.get("auths") or {}).items():
        auths.setdefault(normalise_key(key, keep_path=keep_path), entry)
    for candidate in _candidates(registry, repository):
        if candidate in auths and isinstance(auths[candidate], dict):
            return _decode_auth(auths[candidate], f"{path} [{candidate}]")
    return None


def resolve(sources: CredentialSources, registry: str, repository: str,
            run: HelperRunner = run_helper) -> Credential:
    """The credential for registry/repository, or ANONYMOUS when none is configured."""
    files = [(p, True) for p in sources.auth_files]
    if sources.docker_config:
        files.append((sources.docker_config, False))
    for path, keep_path in files:
        data = _load(path)
        if data is None:
            continue
        cred = _from_file(data, path, registry, repository, keep_path, run)
        if cred is not None:
            return cred
    return ANONYMOUS


def store_login(path: Path, registry: str, username: str, password: str) -> None:
    """Record credentials in an auth.json (mode 0600), as `podman login` does."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _locked(path):  # read-modify-write: one login or logout at a time
        data = _load(path) or {}
        data.setdefault("auths", {})[registry] = {"auth": token}
        _write_private_json(path, data)


def remove_login(path: Path, registry: str) -> bool:
    """Forget registry's entry in an auth.json; True when there was one."""
    if not path.parent.is_dir():
        return False
    with _locked(path):
        data = _load(path)
        if not data or registry not in (data.get("auths") or {}):
            return False
        del data["auths"][registry]
        _write_private_json(path, data)
    return True


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive flock on a sibling lock file, opened without following symlinks."""
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write_private_json(path: Path, data: dict[str, Any]) -> None:
    """Write data to path atomically and durably, readable by its owner only.

    The temporary file has an unpredictable name and is created exclusively with mode
    0600 (mkstemp: O_CREAT|O_EXCL, never through a planted symlink or an existing file);
    it is fsynced, renamed over path, and the directory fsynced."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=2)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
