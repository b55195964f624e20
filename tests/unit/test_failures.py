"""What each failed call means for the resource, and how long until the next try."""
from __future__ import annotations

import random

import pytest

from orgo_operator.orgo import OrgoAPIError, OrgoResponseError, OrgoTransportError
from orgo_operator.reconcile import failures


def api_error(status: int, message: str = "nope", retry_after: float | None = None):
    return OrgoAPIError(message, endpoint="create", status_code=status, retry_after=retry_after)


def test_a_rejected_body_is_not_retried_until_the_spec_changes():
    failure = failures.classify(api_error(400, "ram 12 is not offered"), failures=1)
    assert failure.permanent
    assert failure.readiness.reason == "CreateRejected"
    assert "ram 12 is not offered" in failure.readiness.message


def test_a_desktop_still_booting_is_a_wait_not_a_rejection():
    failure = failures.classify(api_error(400, "Desktop instance not available"), failures=1)
    assert not failure.permanent
    assert failure.readiness.reason == "Booting"


@pytest.mark.parametrize(("status", "reason"), [(401, "Unauthorized"), (403, "Forbidden")])
def test_a_refused_key_is_retried_in_minutes(status, reason):
    failure = failures.classify(api_error(status), failures=1)
    assert failure.readiness.reason == reason
    assert failure.delay >= 60


def test_rate_limits_are_honoured():
    failure = failures.classify(api_error(429, retry_after=42), failures=1)
    assert failure.readiness.reason == "RateLimited"
    assert failure.delay >= 42


@pytest.mark.parametrize("error", [
    api_error(500), api_error(503),
    OrgoTransportError("refused", endpoint="get"),
    OrgoAPIError("gone?", endpoint="get", status_code=404),
])
def test_transient_failures_back_off(error):
    failure = failures.classify(error, failures=1)
    assert failure.readiness.reason == "OrgoUnavailable"
    assert 0 < failure.delay <= failures.BACKOFF_MAX


def test_a_state_conflict_waits_and_retries():
    failure = failures.classify(api_error(409), failures=1)
    assert failure.readiness.reason == "ComputerBusy"
    assert 0 < failure.delay <= failures.BACKOFF_MAX


def test_a_missing_workspace_is_retried_at_the_policys_pace():
    policy = failures.RetryPolicy(missing_workspace_retry=77)
    failure = failures.classify(api_error(404), failures=1, policy=policy)
    assert failure.readiness.reason == "WorkspaceNotFound"
    assert failure.delay == 77


def test_the_policy_sets_the_auth_pace():
    failure = failures.classify(api_error(401), failures=1,
                                policy=failures.RetryPolicy(auth_retry=5))
    assert failure.delay == 5


def test_an_unreadable_answer_is_its_own_reason():
    failure = failures.classify(OrgoResponseError("not JSON", endpoint="get"), failures=1)
    assert failure.readiness.reason == "BadResponse"
    assert not failure.permanent


def test_backoff_grows_to_its_cap_with_jitter():
    rng = random.Random(7)
    delays = [failures.backoff(n, rng=rng) for n in range(1, 12)]
    for n, delay in enumerate(delays, start=1):
        step = min(failures.BACKOFF_MAX, failures.BACKOFF_BASE * 2 ** (n - 1))
        assert step / 2 <= delay <= step
    assert max(delays) <= failures.BACKOFF_MAX
    assert len(set(delays)) == len(delays)
