"""The subprocess seam: everything leango executes goes through a Runner."""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence

log = logging.getLogger(__name__)


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
            cwd: str | None = None, timeout: float | None = None) -> Result:
        """Run argv to completion and capture its output.

        Raises FileNotFoundError when the program does not exist.
        """


class SubprocessRunner:
    def run(self, argv, *, env=None, cwd=None, timeout=None) -> Result:
        log.debug("run: %s", " ".join(argv))
        proc = subprocess.run(list(argv), env=dict(env) if env is not None else None, cwd=cwd,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              errors="replace", timeout=timeout, check=False)
        return Result(tuple(argv), proc.returncode, proc.stdout, proc.stderr)
