"""One retry policy for every registry request and every whole-upload restart.

As oras-go's retry.Policy and go-containerregistry's transport.retryTransport:
the decision comes from the error alone — 429 waits for Retry-After (capped),
408/500/502/503/504 and connection failures back off exponentially with full
jitter in [ceiling/2, ceiling], and every other status fails at once.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from ..errors import RegistryError

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_DIGEST = re.compile(r"sha256(?::|%3A)[0-9a-f]{64}")
_ATTEMPTS = re.compile(r" \(after \d+ attempts\)")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8  # at 30 % injected faults a request still fails only 0.3**8 of the time
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)
    uniform: Callable[[float, float], float] = field(default=random.uniform, compare=False, repr=False)
    # Causes already announced: parallel uploads failing for one reason say it once, not once each.
    _announced: set[str] = field(default_factory=set, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 <= self.backoff_base <= self.backoff_max:
            raise ValueError("need 0 <= backoff_base <= backoff_max")

    @staticmethod
    def retryable(error: RegistryError) -> bool:
        """Transport failures (no status) and the transient statuses are worth another try,
        unless the error says otherwise (a TLS failure, a cancelled upload)."""
        if error.transient is not None:
            return error.transient
        return error.status is None or error.status in RETRY_STATUSES

    def backoff(self, attempt: int) -> float:
        """Exponential with jitter: attempt 1 waits in [base/2, base], doubling up to backoff_max."""
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return ceiling / 2 + self.uniform(0, ceiling / 2)

    def delay(self, attempt: int, error: RegistryError) -> float | None:
        """Seconds to wait before attempt + 1, or None when the error is final or attempts are spent."""
        if attempt >= self.max_attempts or not self.retryable(error):
            return None
        if error.status == 429 and error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                log.warning("registry asked to retry after %.0fs; waiting at most %.0fs",
                            error.retry_after, self.max_retry_after)
            return min(error.retry_after, self.max_retry_after)
        return self.backoff(attempt)

    def wait(self, attempt: int, error: RegistryError, what: str) -> bool:
        """Sleep before the next attempt and return True, or return False when not to retry."""
        seconds = self.delay(attempt, error)
        if seconds is None:
            return False
        # The same cause, whichever blob met it and whichever retry loop (a request's, or the
        # whole upload's around it) reports it.
        cause = _ATTEMPTS.sub("", _DIGEST.sub("sha256:…", str(error)))
        with self._lock:
            first = cause not in self._announced
            self._announced.add(cause)
        log.log(logging.INFO if first else logging.DEBUG, "retrying in %.1fs (%s: %s)", seconds, what, error)
        self.sleep(seconds)
        return True

    def run(self, operation: Callable[[int], T], what: str) -> T:
        """Call operation(attempt) until it succeeds or the policy gives up; re-raise the last error."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return operation(attempt)
            except RegistryError as exc:
                if not self.wait(attempt, exc, what):
                    if attempt > 1 and exc.attempts == 1:
                        exc.attempts = attempt
                    raise
