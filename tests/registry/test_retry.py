"""The one retry policy: decisions from the error, backoff shape and jitter, Retry-After caps.

Time is injected (support.clock): no test here sleeps or reads a clock.
"""

from __future__ import annotations

import logging

import pytest

from leango.oci.errors import ErrorEntry, RegistryError
from leango.oci.registry.retry import RETRY_STATUSES, RetryPolicy
from support.clock import Sleeps


def _policy(**kw) -> RetryPolicy:
    return RetryPolicy(**({"sleep": Sleeps()} | kw))


@pytest.mark.parametrize("status", sorted(RETRY_STATUSES))
def test_transient_statuses_are_retried(status):
    assert _policy().delay(1, RegistryError("x", status=status)) is not None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 413, 416, 501, 505])
def test_other_statuses_fail_at_once(status):
    assert _policy().delay(1, RegistryError("x", status=status)) is None


def test_connection_failures_are_retried_unless_marked_final():
    assert _policy().delay(1, RegistryError("reset")) is not None
    assert _policy().delay(1, RegistryError("tls", transient=False)) is None
    assert _policy().delay(1, RegistryError("restart", status=416, transient=True)) is not None


def test_attempts_are_bounded():
    policy = _policy(max_attempts=3)
    err = RegistryError("x", status=503)
    assert policy.delay(2, err) is not None and policy.delay(3, err) is None


def test_backoff_doubles_up_to_the_ceiling_with_jitter_in_the_upper_half():
    top = _policy(backoff_base=0.5, backoff_max=4, uniform=lambda a, b: b)
    bottom = _policy(backoff_base=0.5, backoff_max=4, uniform=lambda a, b: a)
    assert [top.backoff(n) for n in range(1, 7)] == [0.5, 1, 2, 4, 4, 4]
    assert [bottom.backoff(n) for n in range(1, 7)] == [0.25, 0.5, 1, 2, 2, 2]


def test_real_jitter_stays_within_bounds():
    policy = _policy(backoff_base=1, backoff_max=8)
    for attempt in range(1, 6):
        ceiling = min(8, 2 ** (attempt - 1))
        draws = [policy.backoff(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in draws)
        assert len(set(draws)) > 1, "no jitter"


def test_retry_after_is_honoured_and_capped(caplog):
    policy = _policy(max_retry_after=60)
    assert policy.delay(1, RegistryError("x", status=429, retry_after=7)) == 7
    with caplog.at_level(logging.WARNING):
        assert policy.delay(1, RegistryError("x", status=429, retry_after=3600)) == 60
    assert "3600" in caplog.text
    # Retry-After on another status does not replace the backoff.
    assert policy.delay(1, RegistryError("x", status=503, retry_after=3600)) <= policy.backoff_base


def test_run_retries_then_succeeds_sleeping_only_through_the_injected_sleep():
    policy = _policy(max_attempts=4, uniform=lambda a, b: b)
    calls = []

    def flaky(attempt: int) -> str:
        calls.append(attempt)
        if attempt < 3:
            raise RegistryError("busy", status=503)
        return "ok"

    assert policy.run(flaky, "op") == "ok"
    assert calls == [1, 2, 3] and policy.sleep == [0.5, 1.0]


def test_run_gives_up_with_the_last_error_and_the_attempt_count():
    policy = _policy(max_attempts=3)

    def always(_attempt: int) -> None:
        raise RegistryError("busy", status=502)

    with pytest.raises(RegistryError) as err:
        policy.run(always, "op")
    assert err.value.attempts == 3 and "after 3 attempts" in str(err.value)
    assert len(policy.sleep) == 2


def test_run_does_not_retry_a_final_error():
    policy = _policy()
    with pytest.raises(RegistryError):
        policy.run(lambda _a: (_ for _ in ()).throw(RegistryError("denied", status=403)), "op")
    assert policy.sleep == []


def test_error_keeps_every_entry():
    err = RegistryError("m", status=400, errors=(ErrorEntry("MANIFEST_INVALID", "bad"), ErrorEntry("BLOB_UNKNOWN", "x")))
    assert err.code == "MANIFEST_INVALID" and [e.code for e in err.errors] == ["MANIFEST_INVALID", "BLOB_UNKNOWN"]


@pytest.mark.parametrize("kw", [{"max_attempts": 0}, {"backoff_base": 2, "backoff_max": 1}])
def test_invalid_policy_is_refused(kw):
    with pytest.raises(ValueError):
        RetryPolicy(**kw)
