"""Where the go commands run: a throwaway buildah container, or (isolation none) the job container itself.

`chroot` (buildah's chroot isolation in a user namespace) shows the go commands only what is
mounted: the source and the toolchain read-only, the caches, a scratch /tmp and the output
directory; nothing else of the machine (its home directories, credentials, other checkouts)
is there to read or write. It needs user namespaces, which a job container may not be
allowed to make (Docker's default seccomp profile and Kubernetes' RuntimeDefault permit
them only with CAP_SYS_ADMIN; a job user's setuid newuidmap cannot map its ids).

`none` is for a job container that is itself the throwaway (as kaniko's is): the same go
commands, environment, flags and output checks, run directly; the same digests. It gives
up the view limited to the mounts: the go commands run as the invoking user and see what
that user sees, and the module cache and source are protected by their file modes only.

`auto` is chroot, except inside a container (/.dockerenv, /run/.containerenv,
KUBERNETES_SERVICE_HOST) where buildah cannot make one: then none, said on stderr.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import BuildahError, BuildTimeout
from .runner import Result, Runner

if TYPE_CHECKING:
    from .buildah import Mount

log = logging.getLogger(__name__)
ISOLATIONS = ("auto", "chroot", "none")
NONE_HINT = "--isolation none when the job container is disposable"


class WorkDeadline:
    """--timeout for the work of a build: the monotonic time it must end by (None: unbounded).
    `at` is given when the clock started earlier (the registry cache's pull counts too)."""

    def __init__(self, timeout: float | None, at: float | None = None):
        self.timeout = timeout
        self.at = at if at is not None else time.monotonic() + timeout if timeout else None

    def left(self) -> float | None:
        """Seconds left, None when unbounded; raises BuildTimeout once none are."""
        if self.at is None:
            return None
        left = self.at - time.monotonic()
        if left <= 0:
            raise self.expired()
        return left

    def expired(self) -> BuildTimeout:
        return BuildTimeout(f"the build did not finish within --timeout {self.timeout:g} s")


class IsolationError(BuildahError):
    """buildah cannot make or enter a container here (namespaces, id mappings, storage)."""

    def __init__(self, cause: str, fix: str):
        super().__init__(cause, fix)
        self.cause = cause


@dataclass(frozen=True)
class _Diagnosis:
    pattern: re.Pattern[str]
    cause: str
    fix: str


# What buildah prints when the place it runs in cannot host a container. Each pattern is a
# line that means the container could not be made or entered (buildah's own closing line,
# "Unable to determine exit status", says nothing); diagnose() also reads the warnings printed
# before it to tell missing subordinate ids from denied helpers.
_DIAGNOSES = (
    _Diagnosis(re.compile(r"unshare\(CLONE_NEWUSER\)|cannot clone: Operation not permitted|"
                          r"user namespaces are not enabled", re.I),
               "buildah cannot create a user namespace here: unshare(CLONE_NEWUSER) is denied (a seccomp "
               "profile such as Docker's default or Kubernetes' RuntimeDefault allows it only with "
               "CAP_SYS_ADMIN)",
               f"{NONE_HINT}, or run the job with a seccomp profile that allows user namespaces"),
    _Diagnosis(re.compile(r"setting supplemental groups(?: list)?: operation not permitted", re.I),
               "buildah cannot map this user's subordinate ids: newuidmap/newgidmap are denied "
               "(setuid helpers do not work for a job container's user, nor with no-new-privileges)",
               "give /usr/bin/newuidmap and newgidmap file capabilities (setcap cap_setuid+ep, "
               f"cap_setgid+ep) instead of the setuid bit, run the job without no-new-privileges, or {NONE_HINT}"),
    _Diagnosis(re.compile(r"fuse: device not found|is not supported over overlayfs|mount_program is required",
                          re.I),
               "buildah's storage needs overlay mounts this place cannot make",
               "leango uses vfs storage under --cache-dir: check that no CONTAINERS_STORAGE_CONF or "
               "storage option forces overlay"),
    _Diagnosis(re.compile(r"^.*\b(?:mount|pivot_root|chroot|remount)\b[^\n]*: (?:operation not permitted|"
                          r"permission denied)", re.I | re.M),
               "buildah cannot mount the build's directories here (mounts are denied)",
               f"{NONE_HINT}, or allow the job to make mount namespaces"),
)
_NO_SUBIDS = re.compile(r"no subuid ranges found for user|Found no [UG]ID ranges set aside", re.I)


def diagnose(stderr: str) -> IsolationError | None:
    """The infrastructure failure buildah's output shows, or None (a failure of the command itself)."""
    for diagnosis in _DIAGNOSES:
        if diagnosis.pattern.search(stderr):
            if diagnosis is _DIAGNOSES[1] and _NO_SUBIDS.search(stderr):
                return IsolationError("this user has no subordinate ids in /etc/subuid and /etc/subgid",
                                      "add a range (usermod --add-subuids 100000-165535 --add-subgids "
                                      f"100000-165535 USER), or {NONE_HINT}")
            return IsolationError(diagnosis.cause, diagnosis.fix)
    return None


def fallback_reason(isolation: str, environ: Mapping[str, str], root: Path = Path("/")) -> str:
    """Why isolation none may replace a container buildah could not make ('' when it may not):
    only for auto, and only where leango can tell it runs inside a container."""
    return in_container(environ, root) if isolation == "auto" else ""


def in_container(environ: Mapping[str, str], root: Path = Path("/")) -> str:
    """Why leango believes it runs inside a container ('' when it does not)."""
    if (root / ".dockerenv").exists():
        return "/.dockerenv exists"
    if (root / "run" / ".containerenv").exists():
        return "/run/.containerenv exists"
    if environ.get("KUBERNETES_SERVICE_HOST"):
        return "KUBERNETES_SERVICE_HOST is set"
    return ""


class HostSession:
    """isolation none: the steps a BuildahSession would run, run directly.

    Each command sees the mounts' host directories where the container would see their
    targets: its argv, environment and working directory are translated, and its output
    translated back, so the go steps and their messages are the same in both modes. A
    container path no mount covers (GOPATH's) lands under `scratch`, as it would land in
    the container's own root file system."""

    def __init__(self, runner: Runner, scratch: Path, *, timeout: float | None = None,
                 deadline: float | None = None):
        self.runner = runner
        self.scratch = scratch
        self.deadline = WorkDeadline(timeout, deadline)

    def __enter__(self) -> HostSession:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def wait_removed(self) -> None:
        return None

    def run(self, argv: Sequence[str], *, mounts: Sequence[Mount] = (),
            env: Mapping[str, str] | None = None, workdir: str = "/",
            hidden_env: Mapping[str, str] | None = None) -> Result:
        table = sorted(((m.target.rstrip("/") or "/", m.source) for m in mounts), key=lambda t: -len(t[0]))

        def host(value: str) -> str:
            if not value.startswith("/"):
                return value
            for target, source in table:
                if value == target or value.startswith(target + "/"):
                    return source + value[len(target):]
            return str(self.scratch) + value

        host_env = {k: ":".join(host(p) for p in v.split(":")) if k == "PATH" else host(v)
                    for k, v in (env or {}).items()} | dict(hidden_env or {})
        cwd = host(workdir)
        if cwd.startswith(str(self.scratch)):
            os.makedirs(cwd, exist_ok=True)
        try:
            res = self.runner.run([host(a) for a in argv], env=host_env, cwd=cwd, timeout=self.deadline.left())
        except subprocess.TimeoutExpired as exc:
            raise self.deadline.expired() from exc
        back = sorted(table, key=lambda t: -len(t[1]))

        def inside(text: str) -> str:
            for target, source in back:
                text = text.replace(source, target)
            return text

        return Result(res.argv, res.returncode, inside(res.stdout), inside(res.stderr))
