"""BuildahSession: a throwaway working container — from → run → rm.

The container is made `FROM scratch` (no image is pulled or created) and is
removed in a `finally`, also when SIGINT or SIGTERM arrives, so `buildah
containers` and `buildah images` show nothing new after any run.
`--isolation chroot` is used: it works rootless, where the OCI isolation fails on
cgroup-v1 hybrid hosts. Storage is leango's own (`Storage`): vfs under the cache
directory, since the container is empty and everything arrives by bind mount, so no
overlay (which fails on a job container's own overlayfs without /dev/fuse) is needed.
"""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from .containers import container_name
from .errors import BuildahError, Interrupted
from .isolation import WorkDeadline, diagnose
from .runner import Result, Runner, inherited_env

log = logging.getLogger(__name__)
TRANSIENT_RUN_ERROR = "sealing memfd copy"
INSTALL_HINT = "install it with `apt-get install buildah uidmap` (Debian/Ubuntu) or see buildah's install guide"


@dataclass(frozen=True)
class Storage:
    """buildah's storage for leango's working containers: `--root`, `--runroot`, `--storage-driver`.

    vfs needs no mount privilege and costs nothing here: the containers are made FROM
    scratch, so there is no image layer to copy. Its own location keeps leango's
    containers apart from the machine's images and from storage.conf's driver choice."""
    root: Path
    runroot: Path
    driver: str = "vfs"

    @classmethod
    def under(cls, cache_dir: Path) -> Storage:
        return cls(cache_dir / "containers" / "storage", cache_dir / "containers" / "run")

    def flags(self) -> list[str]:
        return ["--root", str(self.root), "--runroot", str(self.runroot), "--storage-driver", self.driver]

    def argv(self, subcommand: str, *args: str) -> list[str]:
        """buildah SUBCOMMAND with the storage flags (accepted after it: they are global flags)."""
        return ["buildah", subcommand, *self.flags(), *args]


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    readonly: bool = True

    def flag(self) -> str:
        for path in (self.source, self.target):
            if ":" in path or "," in path:
                raise BuildahError(f"path {path!r} contains ':' or ',', which buildah cannot bind-mount",
                                   "move or symlink it to a plain path")
        return f"{self.source}:{self.target}:{'ro' if self.readonly else 'rw'}"


def _raise_interrupted(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(f"interrupted by {signal.Signals(signum).name}")


class BuildahSession:
    def __init__(self, runner: Runner, storage: Storage, *, isolation: str = "chroot",
                 env: Mapping[str, str] | None = None, timeout: float | None = None,
                 remove_in_background: bool = False, deadline: float | None = None):
        """remove_in_background: on exit the container is removed by a thread, so that the
        caller can go on (assemble the image) meanwhile; it must call wait_removed().
        deadline: when --timeout (timeout) started earlier, the monotonic time it ends."""
        self.runner = runner
        self.storage = storage
        self.remove_in_background = remove_in_background
        self._removal: threading.Thread | None = None
        self.isolation = isolation
        self.env = dict(env) if env is not None else None
        self.deadline = WorkDeadline(timeout, deadline)
        self.container = ""
        self._old_term: Callable[[int, FrameType | None], Any] | int | None = None

    def _buildah(self, *args: str, own_session: bool = False, env: Mapping[str, str] | None = None,
                 timeout: float | None = None) -> Result:
        try:
            return self.runner.run(self.storage.argv(*args), env=env if env is not None else self.env,
                                   timeout=timeout, own_session=own_session)
        except FileNotFoundError as exc:
            raise BuildahError("buildah is not installed or not on PATH", INSTALL_HINT) from exc

    def __enter__(self) -> BuildahSession:
        if threading.current_thread() is threading.main_thread():
            self._old_term = signal.signal(signal.SIGTERM, _raise_interrupted)
        name = container_name()
        try:
            # Creation and removal run in sessions of their own: a Ctrl-C sent to leango's
            # process group while they run would otherwise leave a container behind.
            res = self._buildah("from", "--name", name, "--quiet", "scratch", own_session=True)
        except BuildahError:
            self._restore_signals()
            raise
        except BaseException:  # interrupted while the container was being made: it may exist
            self._remove(name, quiet=True)
            self._restore_signals()
            raise
        if not res.ok:
            self._restore_signals()
            raise diagnose(res.stderr) or BuildahError(f"buildah from scratch failed: {first_cause(res.stderr)}",
                                                       _rootless_hint(res.stderr))
        self.container = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else name
        log.debug("working container %s", self.container)
        return self

    def run(self, argv: Sequence[str], *, mounts: Sequence[Mount] = (),
            env: Mapping[str, str] | None = None, workdir: str = "/",
            hidden_env: Mapping[str, str] | None = None) -> Result:
        """hidden_env: proxy variables (HTTPS_PROXY, NO_PROXY…, either case), given to buildah's
        own environment, from which it passes them into the container: never on its argv."""
        # A numeric user and group: buildah then skips two of its three /etc/passwd look-ups
        # (each a re-exec of itself, into a scratch container that has no /etc/passwd).
        args = ["run", "--isolation", self.isolation, "--user", "0:0", "--workingdir", workdir]
        for mount in mounts:
            args += ["-v", mount.flag()]
        for key, value in (env or {}).items():
            args += ["--env", f"{key}={value}"]
        process_env = None
        if hidden_env:
            process_env = {**(self.env if self.env is not None else inherited_env()), **hidden_env}
        res = self._run_bounded(*args, self.container, "--", *argv, env=process_env)
        if not res.ok and TRANSIENT_RUN_ERROR in res.stderr:
            # buildah's chroot isolation sometimes fails to seal the memfd copy of itself
            # before the command starts; nothing ran, so running again is safe.
            log.debug("buildah run failed before starting the command (%s); retrying once",
                      TRANSIENT_RUN_ERROR)
            res = self._run_bounded(*args, self.container, "--", *argv, env=process_env)
        if not res.ok and (failure := diagnose(res.stderr)) is not None:
            raise failure  # the container could not be entered: nothing the command did
        if not res.ok and _BUILDAH_ERROR.search(res.stderr):
            # buildah's own error (the go tool never logs this way): the machine's fault, not the input's.
            raise BuildahError(f"buildah run failed: {first_cause(res.stderr)}")
        return res

    def _run_bounded(self, *args: str, env: Mapping[str, str] | None = None) -> Result:
        """`buildah run` within what is left of the session's --timeout."""
        try:
            return self._buildah(*args, env=env, timeout=self.deadline.left())
        except subprocess.TimeoutExpired as exc:
            raise self.deadline.expired() from exc

    def __exit__(self, *exc: object) -> None:
        try:
            if self.container and self.remove_in_background:
                # `buildah rm` runs in a session of its own: no Ctrl-C cuts it short, and the
                # interpreter waits for this (non-daemon) thread before it exits.
                self._removal = threading.Thread(target=self._remove, args=(self.container,),
                                                 name="buildah-rm")
                self._removal.start()
            elif self.container:
                self._remove(self.container)
        finally:
            self._restore_signals()

    def wait_removed(self) -> None:
        if self._removal is not None:
            self._removal.join()

    def _remove(self, container: str, *, quiet: bool = False) -> None:
        # Removal must not be cut short by a second Ctrl-C or SIGTERM.
        in_main = threading.current_thread() is threading.main_thread()
        old_int = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main else None
        old_term = signal.signal(signal.SIGTERM, signal.SIG_IGN) if in_main else None
        try:
            res = self._buildah("rm", container, own_session=True)
            if not res.ok and not quiet:
                log.warning("could not remove working container %s: %s", container, _last_line(res.stderr))
        finally:
            if in_main:
                signal.signal(signal.SIGINT, old_int)
                signal.signal(signal.SIGTERM, old_term)

    def _restore_signals(self) -> None:
        if self._old_term is not None:
            signal.signal(signal.SIGTERM, self._old_term)
            self._old_term = None


_NOISE = re.compile(r"Unable to determine exit status|parsing PID|failed to shutdown storage|"
                    r"^(?:Error: )?exit status \d+$|^subprocess exited with status \d+$")
_BUILDAH_ERROR = re.compile(r'^time="[^"]*" level=(?:error|fatal) msg=', re.M)
_LOGRUS = re.compile(r'^time="[^"]*" level=(\w+) msg="(.*)"$')


def first_cause(text: str) -> str:
    """The first line of buildah's output that says what went wrong (its closing lines, such
    as "(Unable to determine exit status)", say nothing), without logrus's decoration."""
    lines = []
    for raw in text.strip().splitlines():
        line = raw.strip()
        if match := _LOGRUS.match(line):
            line = match.group(2).encode().decode("unicode_escape", "replace").strip()
        if line and not _NOISE.search(line):
            lines.append(line)
    errors = [l for l in lines if re.search(r"\berror\b|denied|not permitted|failed", l, re.I)]
    return (errors or lines or ["(no output)"])[0].splitlines()[0]


def _last_line(text: str) -> str:
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[-1] if lines else "(no output)"


def _rootless_hint(stderr: str) -> str:
    if "newuidmap" in stderr or "subuid" in stderr or "subgid" in stderr:
        return "rootless buildah needs the uidmap package and subuid/subgid ranges for this user"
    return ""
