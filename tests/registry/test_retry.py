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


# -- each boundary and message on its own (survivors of scripts/mutation) ---------------------

def test_defaults():
    p = RetryPolicy()
    assert (p.max_attempts, p.backoff_base, p.backoff_max, p.max_retry_after) == (8, 0.5, 8.0, 60.0)


@pytest.mark.parametrize("kw,message", [
    ({"max_attempts": 0}, "max_attempts must be at least 1"),
    ({"max_attempts": -3}, "max_attempts must be at least 1"),
    ({"backoff_base": -0.1}, "need 0 <= backoff_base <= backoff_max"),
    ({"backoff_base": 2, "backoff_max": 1}, "need 0 <= backoff_base <= backoff_max"),
])
def test_invalid_policy_messages(kw, message):
    with pytest.raises(ValueError) as err:
        RetryPolicy(**kw)
    assert str(err.value) == message


@pytest.mark.parametrize("kw", [{"max_attempts": 1}, {"backoff_base": 0}, {"backoff_base": 3, "backoff_max": 3}])
def test_boundary_policies_are_accepted(kw):
    assert RetryPolicy(**kw)


def test_last_attempt_gets_no_delay():
    policy = _policy(max_attempts=3, uniform=lambda a, b: b)
    err = RegistryError("busy", status=503)
    assert policy.delay(2, err) == 1.0
    assert policy.delay(3, err) is None and policy.delay(4, err) is None


def test_single_attempt_policy_never_retries():
    policy = _policy(max_attempts=1)
    assert policy.delay(1, RegistryError("busy", status=503)) is None


def test_backoff_exact_values():
    policy = _policy(backoff_base=1, backoff_max=4, uniform=lambda a, b: (a, b)[0])  # the lower bound
    assert [policy.backoff(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 2.0]
    calls = []
    policy = _policy(backoff_base=1, backoff_max=4, uniform=lambda a, b: calls.append((a, b)) or b)
    assert [policy.backoff(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 4.0]
    assert calls == [(0, 0.5), (0, 1.0), (0, 2.0), (0, 2.0)]


def test_retry_after_at_the_cap_is_not_warned(caplog):
    policy = _policy(max_retry_after=60)
    with caplog.at_level(logging.WARNING, logger="leango.oci.registry.retry"):
        assert policy.delay(1, RegistryError("x", status=429, retry_after=60)) == 60
        assert caplog.text == ""
        assert policy.delay(1, RegistryError("x", status=429, retry_after=61)) == 60
    assert [r.getMessage() for r in caplog.records] == ["registry asked to retry after 61s; waiting at most 60s"]


def test_429_without_retry_after_backs_off():
    policy = _policy(uniform=lambda a, b: b)
    assert policy.delay(2, RegistryError("slow down", status=429)) == 1.0


def test_wait_logs_and_sleeps(caplog):
    policy = _policy(uniform=lambda a, b: b)
    with caplog.at_level(logging.INFO, logger="leango.oci.registry.retry"):
        assert policy.wait(1, RegistryError("busy", status=503), "PUT blob") is True
    assert policy.sleep == [0.5]
    assert [r.getMessage() for r in caplog.records] == ["retrying in 0.5s (PUT blob: busy)"]
    assert policy.wait(1, RegistryError("no", status=404), "GET") is False and policy.sleep == [0.5]


def test_attempt_count_kept_when_the_error_already_counts_its_own():
    policy = _policy(max_attempts=2)

    def fails(attempt: int) -> None:
        raise RegistryError("busy", status=503, attempts=5)

    with pytest.raises(RegistryError) as err:
        policy.run(fails, "op")
    assert err.value.attempts == 5


def test_a_final_error_on_the_first_attempt_counts_one():
    policy = _policy()
    with pytest.raises(RegistryError) as err:
        policy.run(lambda _a: (_ for _ in ()).throw(RegistryError("denied", status=403)), "op")
    assert err.value.attempts == 1 and "attempts" not in str(err.value)


def test_run_passes_the_attempt_number():
    policy = _policy(max_attempts=5)
    seen = []

    def op(attempt: int) -> int:
        seen.append(attempt)
        if attempt < 4:
            raise RegistryError("reset")
        return attempt

    assert policy.run(op, "op") == 4 and seen == [1, 2, 3, 4]


def test_each_cause_is_said_once_at_info_whichever_blob_or_attempt_met_it(caplog):
    policy = _policy(uniform=lambda a, b: b)
    blob_a, blob_b = "sha256:" + "a" * 64, "sha256%3A" + "b" * 64
    errors = [RegistryError(f"PUT /v2/r/blobs/{blob_a} returned HTTP 503", status=503),
              RegistryError(f"PUT /v2/r/blobs/{blob_b} returned HTTP 503 (after 3 attempts)", status=503),  # same
              RegistryError("GET /v2/ returned HTTP 502", status=502),  # another cause: said too
              RegistryError("GET /v2/ returned HTTP 502", status=502)]
    with caplog.at_level(logging.DEBUG, logger="leango.oci.registry.retry"):
        for error in errors:
            assert policy.wait(1, error, "push") is True
    assert [(r.levelno, r.getMessage().split(" (push: ")[1]) for r in caplog.records] == [
        (logging.INFO, f"PUT /v2/r/blobs/{blob_a} returned HTTP 503)"),
        (logging.DEBUG, f"PUT /v2/r/blobs/{blob_b} returned HTTP 503 (after 3 attempts))"),
        (logging.INFO, "GET /v2/ returned HTTP 502)"),
        (logging.DEBUG, "GET /v2/ returned HTTP 502)")]
