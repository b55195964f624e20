"""
The Ready condition: what a computer's phase, or a failure to reach it, means for its users.

Reasons are CamelCase constants, so alerts and `kubectl wait` scripts can match on them.
"""
from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Mapping
from typing import Any

READY = "Ready"

# Reasons for Ready=True.
REASON_RUNNING = "Running"

# Reasons for Ready=False while the computer is on its way.
REASON_CREATING = "Creating"
REASON_BOOTING = "Booting"
REASON_RESTARTING = "Restarting"

# Reasons for Ready=False because of the computer's own state.
REASON_COMPUTER_ERROR = "ComputerError"
REASON_STOPPED = "Stopped"
REASON_STOPPING = "Stopping"
REASON_SUSPENDED = "Suspended"
REASON_DELETING = "Deleting"
REASON_UNKNOWN_PHASE = "UnknownPhase"

# Reasons for Ready=False because Orgo refused or could not be reached.
REASON_INVALID_SPEC = "InvalidSpec"
REASON_CREATE_REJECTED = "CreateRejected"
REASON_NOT_FOUND = "WorkspaceNotFound"
REASON_UNAUTHORIZED = "Unauthorized"
REASON_FORBIDDEN = "Forbidden"
REASON_NAME_CONFLICT = "NameConflict"
REASON_RATE_LIMITED = "RateLimited"
REASON_BUSY = "ComputerBusy"
REASON_ORGO_UNAVAILABLE = "OrgoUnavailable"
REASON_BAD_RESPONSE = "BadResponse"
REASON_DELETE_FAILED = "DeleteFailed"

PHASE_RUNNING = "running"
PHASE_ERROR = "error"

# Phases on the way to running: observe again soon.
TRANSIENT_PHASES = {
    "creating": (REASON_CREATING, "Orgo is creating the computer."),
    "starting": (REASON_BOOTING, "The computer is booting."),
    "restarting": (REASON_RESTARTING, "The computer is restarting."),
}

# Phases that last until someone acts: observe at the slow resync pace.
RESTING_PHASES = {
    "stopped": (REASON_STOPPED, "The computer is stopped; start it in Orgo to use it."),
    "stopping": (REASON_STOPPING, "The computer is stopping."),
    "suspended": (REASON_SUSPENDED, "The computer is suspended."),
    "deleting": (REASON_DELETING, "Orgo is deleting the computer."),
}


@dataclasses.dataclass(frozen=True)
class Readiness:
    """The content of a Ready condition, before it is stamped with time and generation."""

    status: str
    reason: str
    message: str

    @classmethod
    def ready(cls, message: str) -> Readiness:
        return cls("True", REASON_RUNNING, message)

    @classmethod
    def not_ready(cls, reason: str, message: str) -> Readiness:
        return cls("False", reason, message)


def readiness_for_phase(phase: str, *, message: str | None = None) -> Readiness:
    """Map an Orgo status string, including ones not known today, to readiness."""
    if phase == PHASE_RUNNING:
        return Readiness.ready("The computer is running.")
    if phase == PHASE_ERROR:
        detail = f": {message}" if message else "; Orgo gave no reason."
        return Readiness.not_ready(REASON_COMPUTER_ERROR, f"The computer entered error{detail}")
    if phase in TRANSIENT_PHASES:
        return Readiness.not_ready(*TRANSIENT_PHASES[phase])
    if phase in RESTING_PHASES:
        return Readiness.not_ready(*RESTING_PHASES[phase])
    return Readiness.not_ready(
        REASON_UNKNOWN_PHASE, f"Orgo reports the phase {phase!r}, which is not known to be ready."
    )


def is_transient(phase: str) -> bool:
    """
    Whether the phase should change soon by itself, and so is worth a quick look. An unknown
    phase counts as transient: watched closely, with the polling interval growing to its cap.
    """
    settled = phase in RESTING_PHASES or phase in (PHASE_RUNNING, PHASE_ERROR)
    return not settled


def set_ready_condition(
        conditions: Iterable[Mapping[str, Any]] | None,
        readiness: Readiness,
        *,
        generation: int | None,
        now: datetime.datetime,
) -> list[dict[str, Any]]:
    """
    Return the conditions with Ready set as given, others kept as they are.

    lastTransitionTime moves only when the status flips, as the API conventions ask; a change
    of reason or message alone keeps it.
    """
    kept = [dict(item) for item in conditions or () if item.get("type") != READY]
    previous = next((item for item in conditions or () if item.get("type") == READY), None)
    if previous is not None and previous.get("status") == readiness.status:
        transition = previous.get("lastTransitionTime") or format_time(now)
    else:
        transition = format_time(now)
    ready: dict[str, Any] = {
        "type": READY,
        "status": readiness.status,
        "reason": readiness.reason,
        "message": readiness.message,
        "lastTransitionTime": transition,
    }
    if generation is not None:
        ready["observedGeneration"] = generation
    return [*kept, ready]


def format_time(moment: datetime.datetime, *, precise: bool = False) -> str:
    """RFC 3339 in UTC: whole seconds for conditions, microseconds for ordering marks."""
    pattern = "%Y-%m-%dT%H:%M:%S.%fZ" if precise else "%Y-%m-%dT%H:%M:%SZ"
    return moment.astimezone(datetime.timezone.utc).strftime(pattern)


def parse_time(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)
