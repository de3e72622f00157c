"""The subprocess seam: everything leango executes goes through a Runner."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)
KILL_GRACE = 10.0  # seconds between SIGTERM and SIGKILL when a command outlives its timeout


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Runner(Protocol):
    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
            cwd: str | None = None, timeout: float | None = None, own_session: bool = False) -> Result:
        """Run argv to completion and capture its output.

        own_session starts the command in a session of its own, so that a terminal's Ctrl-C
        (sent to leango's whole process group) does not cut it short: for the steps that create
        and remove a working container, which must finish once begun.
        Raises FileNotFoundError when the program does not exist.
        """


# Registry credentials are leango's business, not its children's: buildah
# even fails `from scratch` when REGISTRY_AUTH_FILE names a missing file.
SCRUBBED = ("REGISTRY_AUTH_FILE", "DOCKER_CONFIG", "DOCKER_AUTH_CONFIG")


def inherited_env() -> dict[str, str]:
    """What a child gets when no environment is given: leango's own, less registry credentials."""
    return {k: v for k, v in os.environ.items() if k not in SCRUBBED}


class SubprocessRunner:
    SCRUBBED = SCRUBBED

    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
            cwd: str | None = None, timeout: float | None = None, own_session: bool = False) -> Result:
        log.debug("run: %s", " ".join(argv))
        if env is None:
            env = inherited_env()
        with subprocess.Popen(list(argv), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              errors="replace", start_new_session=own_session) as proc:
            try:
                stdout, stderr = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                # SIGTERM first: `buildah run` passes it on to the command in the container,
                # which a SIGKILL of buildah alone would leave running.
                proc.terminate()
                try:
                    proc.communicate(timeout=KILL_GRACE)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate()
                raise
            except BaseException:  # an interrupt
                if own_session:  # it must finish once begun: let it, then pass the interrupt on
                    proc.communicate()
                else:  # stop the child now, as subprocess.run does
                    proc.kill()
                raise
        return Result(tuple(argv), proc.returncode, stdout, stderr)
