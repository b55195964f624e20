"""From an observed phase to the Ready condition, as the API conventions ask."""
from __future__ import annotations

import datetime

import pytest

from orgo_operator.reconcile import conditions
from orgo_operator.reconcile.conditions import Readiness

T0 = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
T1 = T0 + datetime.timedelta(minutes=5)


@pytest.mark.parametrize(("phase", "status", "reason"), [
    ("running", "True", "Running"),
    ("creating", "False", "Creating"),
    ("starting", "False", "Booting"),
    ("restarting", "False", "Restarting"),
    ("stopping", "False", "Stopping"),
    ("stopped", "False", "Stopped"),
    ("suspended", "False", "Suspended"),
    ("deleting", "False", "Deleting"),
    ("error", "False", "ComputerError"),
    ("hibernating", "False", "UnknownPhase"),
])
def test_each_phase_has_its_readiness(phase, status, reason):
    readiness = conditions.readiness_for_phase(phase)
    assert (readiness.status, readiness.reason) == (status, reason)
    assert readiness.message.endswith(".")


def test_an_error_carries_orgos_message():
    readiness = conditions.readiness_for_phase("error", message="out of capacity")
    assert "out of capacity" in readiness.message


def test_an_unknown_phase_is_named_in_the_message():
    assert "'hibernating'" in conditions.readiness_for_phase("hibernating").message


@pytest.mark.parametrize(("phase", "transient"), [
    ("starting", True), ("creating", True), ("restarting", True), ("hibernating", True),
    ("running", False), ("error", False), ("stopped", False), ("suspended", False),
])
def test_which_phases_are_watched_closely(phase, transient):
    assert conditions.is_transient(phase) is transient


def test_a_new_condition_has_every_field():
    [ready] = conditions.set_ready_condition([], Readiness.ready("Up."), generation=3, now=T0)
    assert ready == {"type": "Ready", "status": "True", "reason": "Running", "message": "Up.",
                     "lastTransitionTime": "2026-01-01T12:00:00Z", "observedGeneration": 3}


def test_the_transition_time_moves_only_when_the_status_flips():
    booting = conditions.set_ready_condition(
        [], Readiness.not_ready("Creating", "Creating."), generation=1, now=T0)
    still_false = conditions.set_ready_condition(
        booting, Readiness.not_ready("Booting", "Booting."), generation=1, now=T1)
    assert still_false[0]["lastTransitionTime"] == "2026-01-01T12:00:00Z"
    assert still_false[0]["reason"] == "Booting"

    flipped = conditions.set_ready_condition(
        still_false, Readiness.ready("Up."), generation=1, now=T1)
    assert flipped[0]["lastTransitionTime"] == "2026-01-01T12:05:00Z"


def test_other_conditions_are_kept():
    other = {"type": "Synced", "status": "True", "reason": "X", "message": "x",
             "lastTransitionTime": "2025-01-01T00:00:00Z"}
    result = conditions.set_ready_condition([other], Readiness.ready("Up."), generation=1,
                                            now=T0)
    assert result[0] == other
    assert [c["type"] for c in result] == ["Synced", "Ready"]


def test_times_round_trip():
    mark = conditions.format_time(T0, precise=True)
    assert mark == "2026-01-01T12:00:00.000000Z"
    assert conditions.parse_time(mark) == T0
    assert conditions.parse_time("not a time") is None
