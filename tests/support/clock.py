"""Deterministic time for retry tests: the policy's sleep records instead of sleeping."""

from __future__ import annotations

from leango.oci.registry.retry import RetryPolicy


class Sleeps(list):
    """A `sleep` that records each wait and returns at once."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def instant_retry(max_attempts: int = 4, **kw) -> RetryPolicy:
    """A retry policy that goes through every code path without waiting; its waits are in .sleep."""
    return RetryPolicy(max_attempts=max_attempts, sleep=Sleeps(), **kw)
