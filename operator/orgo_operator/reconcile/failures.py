"""
What a failed call to Orgo means for the resource, and when to try again.

Each kind of failure gets its own pace: a refused key is retried in minutes, an overloaded
API when it says, a flaky network with exponential backoff and jitter, and a request Orgo
rejected as invalid not at all until the spec changes.
"""
from __future__ import annotations

import dataclasses
import random

from orgo_operator.orgo import OrgoAPIError, OrgoError, OrgoResponseError, OrgoTransportError
from orgo_operator.reconcile import conditions

BACKOFF_BASE = 1.0
BACKOFF_MAX = 60.0
AUTH_RETRY_DELAY = 120.0
MISSING_WORKSPACE_RETRY_DELAY = 300.0


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """The paces of retrying, one per kind of failure."""

    backoff_base: float = BACKOFF_BASE
    backoff_max: float = BACKOFF_MAX
    auth_retry: float = AUTH_RETRY_DELAY
    missing_workspace_retry: float = MISSING_WORKSPACE_RETRY_DELAY


DEFAULT_POLICY = RetryPolicy()

# Orgo answers 400 with this while a desktop is still coming up: a wait, not a bad request.
BOOTING_MARKER = "not available"


@dataclasses.dataclass(frozen=True)
class Failure:
    """How a failure reads in the Ready condition, and how long to wait before the next try."""

    readiness: conditions.Readiness
    delay: float | None  # None: not until the spec changes

    @property
    def permanent(self) -> bool:
        return self.delay is None


def backoff(failures: int, *, base: float = BACKOFF_BASE, cap: float = BACKOFF_MAX,
            rng: random.Random | None = None) -> float:
    """
    Exponential backoff with equal jitter: half the step is fixed, half is random, so many
    resources failing at once spread their retries instead of stampeding together.
    """
    step = min(cap, base * 2 ** max(0, failures - 1))
    return step / 2 + (rng or random).uniform(0, step / 2)


def classify(error: OrgoError, *, failures: int, policy: RetryPolicy = DEFAULT_POLICY,
             rng: random.Random | None = None) -> Failure:
    """Map a failed call to Ready=False with a reason, and the delay before trying again."""
    retry = backoff(failures, base=policy.backoff_base, cap=policy.backoff_max, rng=rng)

    if isinstance(error, OrgoTransportError):
        return Failure(_not_ready(conditions.REASON_ORGO_UNAVAILABLE, error, retry), retry)
    if isinstance(error, OrgoResponseError):
        return Failure(_not_ready(conditions.REASON_BAD_RESPONSE, error, retry), retry)
    if not isinstance(error, OrgoAPIError):
        return Failure(_not_ready(conditions.REASON_ORGO_UNAVAILABLE, error, retry), retry)

    status = error.status_code
    if status == 400 and BOOTING_MARKER in error.message.lower():
        return Failure(_not_ready(conditions.REASON_BOOTING, error, retry), retry)
    if status == 400 or status == 422:
        readiness = conditions.Readiness.not_ready(
            conditions.REASON_CREATE_REJECTED,
            f"{str(error).rstrip('.')}. Not retried until the spec changes.",
        )
        return Failure(readiness, None)
    if status == 401:
        return Failure(
            _not_ready(conditions.REASON_UNAUTHORIZED, error, policy.auth_retry, hint=(
                "check the API key (ORGO_API_KEY or ORGO_API_KEY_FILE)")),
            policy.auth_retry,
        )
    if status == 403:
        return Failure(
            _not_ready(conditions.REASON_FORBIDDEN, error, policy.auth_retry, hint=(
                "check the key's workspace scope and the plan's limits")),
            policy.auth_retry,
        )
    if status == 404 and error.endpoint in ("create", "workspace"):
        return Failure(
            _not_ready(conditions.REASON_NOT_FOUND, error, policy.missing_workspace_retry,
                       hint="check spec.workspaceId"),
            policy.missing_workspace_retry,
        )
    if status == 429:
        # Retry-After is a floor, never shortened; without one, the usual backoff applies.
        delay = max(retry, error.retry_after or 0.0)
        return Failure(_not_ready(conditions.REASON_RATE_LIMITED, error, delay), delay)
    if status == 409:
        return Failure(_not_ready(conditions.REASON_BUSY, error, retry), retry)
    return Failure(_not_ready(conditions.REASON_ORGO_UNAVAILABLE, error, retry), retry)


def _not_ready(reason: str, error: OrgoError, delay: float, *,
               hint: str | None = None) -> conditions.Readiness:
    # Orgo's own messages often end with a period of their own.
    advice = f"; {hint}" if hint else ""
    return conditions.Readiness.not_ready(
        reason, f"{str(error).rstrip('.')}{advice}. Retrying in {_seconds(delay)}."
    )


def _seconds(delay: float) -> str:
    return f"{delay:.0f}s" if delay >= 10 else f"{delay:.1f}s"
