"""
The reconciler's decisions, one pass at a time, against an in-memory Orgo and Kubernetes.
The same behaviours run for real in tests/e2e; here every branch is quick to reach.
"""
from __future__ import annotations

import datetime
import logging
import uuid
from typing import Any

import pytest

from orgo_operator.orgo import Computer, OrgoAPIError, OrgoTransportError, Workspace
from orgo_operator.reconcile.lifecycle import (
    CREATE_PENDING_ANNOTATION,
    Reconciler,
    Resource,
    Schedule,
)

WORKSPACE = "ws-1"
NOW = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
SCHEDULE = Schedule(poll_initial=0.25, poll_factor=1.5, poll_max=30, resync_interval=300)


class FakeKube:
    def __init__(self) -> None:
        self.status: dict[str, Any] = {}
        self.annotations: dict[str, str] = {}
        self.events: list[tuple[str, str, str]] = []
        self.log: list[str] = []

    async def patch_status(self, patch):
        for key, value in patch.items():
            if value is None:
                self.status.pop(key, None)
            else:
                self.status[key] = value
        self.log.append("status")
        return dict(self.status)

    async def annotate(self, annotations):
        for key, value in annotations.items():
            if value is None:
                self.annotations.pop(key, None)
            else:
                self.annotations[key] = value
        self.log.append("annotate")

    def event(self, kind, reason, message):
        self.events.append((kind, reason, message))


class FakeOrgo:
    def __init__(self) -> None:
        self.computers: dict[str, Computer] = {}
        self.calls: list[str] = []
        self.fail: dict[str, Exception] = {}
        self.lose_create_answer = False
        self.before_create = None

    def _maybe_fail(self, call: str) -> None:
        self.calls.append(call)
        if call in self.fail:
            raise self.fail.pop(call)

    async def create_computer(self, body, *, created_at=NOW):
        if self.before_create is not None:
            await self.before_create()
        self._maybe_fail("create")
        computer = Computer(id=str(uuid.uuid4()), name=body["name"], status="starting",
                            url="https://orgo.example/c", workspace_id=body["workspace_id"],
                            created_at=created_at)
        self.computers[computer.id] = computer
        if self.lose_create_answer:
            raise OrgoTransportError("connection dropped", endpoint="create")
        return computer

    async def get_computer(self, computer_id):
        self._maybe_fail("get")
        if computer_id not in self.computers:
            raise OrgoAPIError("not found", endpoint="get", status_code=404)
        return self.computers[computer_id]

    async def get_workspace(self, workspace_id):
        self._maybe_fail("workspace")
        return Workspace(id=workspace_id, name="w", computers=tuple(self.computers.values()))

    def set_status(self, status: str, message: str | None = None) -> None:
        for key, computer in self.computers.items():
            self.computers[key] = Computer(**{**computer.__dict__, "status": status,
                                              "message": message})


def make(kube=None, orgo=None, status=None, annotations=None):
    kube = kube or FakeKube()
    orgo = orgo or FakeOrgo()
    reconciler = Reconciler(orgo=orgo, kube=kube, schedule=SCHEDULE, status=status or {},
                            annotations=annotations or {}, logger=logging.getLogger("test"),
                            clock=lambda: NOW)
    return reconciler, kube, orgo


RESOURCE = Resource(name="agent-1", generation=1, spec={"workspaceId": WORKSPACE})


def ready(kube: FakeKube) -> dict:
    return next(c for c in kube.status["conditions"] if c["type"] == "Ready")


async def test_create_records_the_id_at_once_and_polls_soon():
    reconciler, kube, orgo = make()
    delay = await reconciler.reconcile(RESOURCE)

    assert orgo.calls == ["create"]
    [computer] = orgo.computers.values()
    assert kube.status["id"] == computer.id
    assert kube.status["url"] == computer.url
    assert kube.status["phase"] == "starting"
    assert ready(kube)["reason"] == "Booting"
    assert delay == SCHEDULE.poll_initial
    # The pending mark went on before the call and came off after the id was recorded.
    assert kube.log == ["status", "annotate", "status", "annotate"]
    assert CREATE_PENDING_ANNOTATION not in kube.annotations


async def test_polling_grows_then_stops_at_running_for_the_slow_resync():
    reconciler, kube, orgo = make()
    delays = [await reconciler.reconcile(RESOURCE) for _ in range(4)]
    assert delays == [0.25, 0.375, 0.5625, 0.84375]

    orgo.set_status("running")
    assert await reconciler.reconcile(RESOURCE) == SCHEDULE.resync_interval
    assert ready(kube)["status"] == "True"
    assert [e[1] for e in kube.events] == ["CreatedComputer", "ComputerReady"]
    assert orgo.calls.count("create") == 1


async def test_error_stops_observing():
    reconciler, kube, orgo = make()
    await reconciler.reconcile(RESOURCE)
    orgo.set_status("error", "no capacity")
    assert await reconciler.reconcile(RESOURCE) is None
    assert ready(kube)["reason"] == "ComputerError"
    assert "no capacity" in ready(kube)["message"]
    assert kube.events[-1][:2] == ("Warning", "ComputerFailed")


async def test_nothing_unchanged_is_written_again():
    reconciler, kube, orgo = make()
    await reconciler.reconcile(RESOURCE)
    orgo.set_status("running")
    await reconciler.reconcile(RESOURCE)
    writes = len(kube.log)
    await reconciler.reconcile(RESOURCE)
    assert len(kube.log) == writes


async def test_a_lost_create_answer_is_adopted_not_repeated():
    reconciler, kube, orgo = make()
    orgo.lose_create_answer = True
    await reconciler.reconcile(RESOURCE)
    assert "id" not in kube.status
    assert CREATE_PENDING_ANNOTATION in kube.annotations
    assert ready(kube)["reason"] == "OrgoUnavailable"

    orgo.lose_create_answer = False
    await reconciler.reconcile(RESOURCE)
    assert orgo.calls == ["create", "workspace"]
    assert len(orgo.computers) == 1
    assert kube.status["id"] == next(iter(orgo.computers))
    assert CREATE_PENDING_ANNOTATION not in kube.annotations
    assert kube.events[-1][1] == "AdoptedComputer"


async def test_a_pending_mark_left_by_a_dead_process_is_honoured():
    # A fresh reconciler, as after a restart, finds the mark on the resource.
    orgo = FakeOrgo()
    await orgo.create_computer({"name": "agent-1", "workspace_id": WORKSPACE})
    orgo.calls.clear()
    mark = "2026-01-01T11:59:59.500000Z"
    reconciler, kube, _ = make(orgo=orgo, annotations={CREATE_PENDING_ANNOTATION: mark})
    kube.annotations[CREATE_PENDING_ANNOTATION] = mark
    await reconciler.reconcile(RESOURCE)
    assert orgo.calls == ["workspace"]
    assert kube.status["id"] == next(iter(orgo.computers))


async def test_a_computer_older_than_the_pending_mark_is_a_conflict():
    orgo = FakeOrgo()
    await orgo.create_computer({"name": "agent-1", "workspace_id": WORKSPACE})
    mark = "2026-01-01T13:00:00.000000Z"  # an hour after that computer was made
    reconciler, kube, _ = make(orgo=orgo, annotations={CREATE_PENDING_ANNOTATION: mark})
    await reconciler.reconcile(RESOURCE)
    assert ready(kube)["reason"] == "NameConflict"
    assert "id" not in kube.status


async def test_a_name_taken_by_someone_else_is_a_conflict():
    reconciler, kube, orgo = make()
    await orgo.create_computer({"name": "agent-1", "workspace_id": WORKSPACE},
                               created_at=NOW - datetime.timedelta(days=1))
    orgo.fail["create"] = OrgoAPIError("name taken", endpoint="create", status_code=409)
    delay = await reconciler.reconcile(RESOURCE)
    assert ready(kube)["reason"] == "NameConflict"
    assert WORKSPACE in ready(kube)["message"] and "agent-1" in ready(kube)["message"]
    assert delay == SCHEDULE.resync_interval
    assert CREATE_PENDING_ANNOTATION not in kube.annotations


async def test_a_409_without_a_namesake_is_a_busy_state_and_retried():
    reconciler, kube, orgo = make()
    orgo.fail["create"] = OrgoAPIError("busy", endpoint="create", status_code=409)
    delay = await reconciler.reconcile(RESOURCE)
    assert ready(kube)["reason"] == "ComputerBusy"
    assert 0 < delay <= 60
    await reconciler.reconcile(RESOURCE)
    assert kube.status["phase"] == "starting"
    assert len(orgo.computers) == 1


async def test_a_spurious_404_does_not_replace_a_live_computer():
    reconciler, kube, orgo = make()
    await reconciler.reconcile(RESOURCE)
    first = kube.status["id"]
    orgo.fail["get"] = OrgoAPIError("not found", endpoint="get", status_code=404)
    delay = await reconciler.reconcile(RESOURCE)
    assert kube.status["id"] == first
    assert ready(kube)["reason"] == "OrgoUnavailable"
    assert delay > 0
    assert len(orgo.computers) == 1


async def test_a_rejected_create_waits_for_a_new_generation():
    reconciler, kube, orgo = make()
    orgo.fail["create"] = OrgoAPIError("ram over plan", endpoint="create", status_code=400)
    assert await reconciler.reconcile(RESOURCE) is None
    assert ready(kube)["reason"] == "CreateRejected"

    assert await reconciler.reconcile(RESOURCE) is None
    assert orgo.calls == ["create"]

    edited = Resource(name="agent-1", generation=2, spec={"workspaceId": WORKSPACE, "ram": 8})
    await reconciler.reconcile(edited)
    assert orgo.calls == ["create", "create"]
    assert kube.status["observedGeneration"] == 2


async def test_a_vanished_computer_is_replaced():
    reconciler, kube, orgo = make()
    await reconciler.reconcile(RESOURCE)
    first = kube.status["id"]
    orgo.computers.clear()

    assert await reconciler.reconcile(RESOURCE) == 0.0
    assert "id" not in kube.status
    assert kube.events[-1][:2] == ("Warning", "ComputerVanished")

    await reconciler.reconcile(RESOURCE)
    assert kube.status["id"] != first
    assert len(orgo.computers) == 1


async def test_an_invalid_spec_is_reported_without_calling_orgo():
    reconciler, kube, orgo = make()
    bad = Resource(name="agent-1", generation=1, spec={"workspaceId": WORKSPACE, "ram": 3})
    assert await reconciler.reconcile(bad) is None
    assert orgo.calls == []
    assert ready(kube)["reason"] == "InvalidSpec"
    assert "spec.ram" in ready(kube)["message"]


@pytest.mark.parametrize(("status", "reason"), [(401, "Unauthorized"), (503, "OrgoUnavailable")])
async def test_failures_are_reported_once_as_events(status, reason):
    reconciler, kube, orgo = make()
    for _ in range(3):
        orgo.fail["create"] = OrgoAPIError("no", endpoint="create", status_code=status)
        await reconciler.reconcile(RESOURCE)
    assert ready(kube)["reason"] == reason
    assert [e[1] for e in kube.events] == ["CannotCreateComputer"]


async def test_a_late_commit_of_a_lost_create_is_adopted_on_409():
    # The first create's answer is lost; when looked for, it is not there yet. Orgo commits
    # it just before the second create arrives, which is then refused with 409.
    reconciler, kube, orgo = make()
    orgo.fail["create"] = OrgoTransportError("timed out", endpoint="create")
    await reconciler.reconcile(RESOURCE)
    assert CREATE_PENDING_ANNOTATION in kube.annotations

    late: list[Computer] = []

    async def commit_late():
        orgo.before_create = None
        late.append(await orgo.create_computer({"name": "agent-1", "workspace_id": WORKSPACE}))
        orgo.fail["create"] = OrgoAPIError("name taken", endpoint="create", status_code=409)

    orgo.before_create = commit_late
    orgo.calls.clear()
    await reconciler.reconcile(RESOURCE)

    assert orgo.calls == ["workspace", "create", "create", "workspace"]
    assert kube.status["id"] == late[0].id
    assert len(orgo.computers) == 1
    assert CREATE_PENDING_ANNOTATION not in kube.annotations
    assert kube.events[-1][1] == "AdoptedComputer"


async def test_a_pending_mark_is_kept_across_failed_attempts():
    reconciler, kube, orgo = make()
    orgo.fail["create"] = OrgoTransportError("dropped", endpoint="create")
    await reconciler.reconcile(RESOURCE)
    mark = kube.annotations[CREATE_PENDING_ANNOTATION]
    orgo.fail["create"] = OrgoAPIError("slow down", endpoint="create", status_code=429)
    await reconciler.reconcile(RESOURCE)
    assert kube.annotations[CREATE_PENDING_ANNOTATION] == mark


async def test_a_5xx_on_create_keeps_the_pending_mark():
    reconciler, kube, orgo = make()
    orgo.fail["create"] = OrgoAPIError("bad gateway", endpoint="create", status_code=502)
    await reconciler.reconcile(RESOURCE)
    assert CREATE_PENDING_ANNOTATION in kube.annotations


async def test_a_4xx_on_a_first_create_clears_the_pending_mark():
    reconciler, kube, orgo = make()
    orgo.fail["create"] = OrgoAPIError("no", endpoint="create", status_code=403)
    await reconciler.reconcile(RESOURCE)
    assert CREATE_PENDING_ANNOTATION not in kube.annotations


async def test_a_fresh_namesake_on_a_first_create_is_a_conflict_not_ours():
    # Made by someone else a moment ago: with no earlier create in doubt, it cannot be ours.
    reconciler, kube, orgo = make()
    await orgo.create_computer({"name": "agent-1", "workspace_id": WORKSPACE})
    orgo.fail["create"] = OrgoAPIError("name taken", endpoint="create", status_code=409)
    await reconciler.reconcile(RESOURCE)
    assert ready(kube)["reason"] == "NameConflict"
    assert "id" not in kube.status


async def test_a_namesake_older_than_the_mark_by_a_second_is_not_adopted():
    orgo = FakeOrgo()
    await orgo.create_computer({"name": "agent-1", "workspace_id": WORKSPACE},
                               created_at=NOW - datetime.timedelta(seconds=1))
    reconciler, kube, _ = make(orgo=orgo, annotations={
        CREATE_PENDING_ANNOTATION: "2026-01-01T12:00:00.250000Z"})
    await reconciler.reconcile(RESOURCE)
    assert ready(kube)["reason"] == "NameConflict"


async def test_a_computer_another_resource_holds_is_never_adopted():
    orgo = FakeOrgo()
    theirs = await orgo.create_computer({"name": "agent-1", "workspace_id": WORKSPACE})
    kube = FakeKube()
    reconciler = Reconciler(
        orgo=orgo, kube=kube, schedule=SCHEDULE, status={},
        annotations={CREATE_PENDING_ANNOTATION: "2026-01-01T11:59:59.000000Z"},
        logger=logging.getLogger("test"), clock=lambda: NOW,
        claimed_elsewhere=lambda computer_id: computer_id == theirs.id)
    await reconciler.reconcile(RESOURCE)
    assert ready(kube)["reason"] == "NameConflict"
    assert "id" not in kube.status


async def test_a_status_changed_by_someone_else_is_put_right_at_the_next_look():
    stored: dict[str, Any] = {}
    kube = FakeKube()
    orgo = FakeOrgo()
    reconciler = Reconciler(orgo=orgo, kube=kube, schedule=SCHEDULE, status={},
                            annotations={}, logger=logging.getLogger("test"),
                            clock=lambda: NOW, live_status=lambda: stored)
    await reconciler.reconcile(RESOURCE)
    orgo.set_status("running")
    await reconciler.reconcile(RESOURCE)
    stored.update(kube.status)

    # Someone writes nonsense into the status; the next look writes the truth again.
    stored.update({"phase": "bogus", "conditions": []})
    writes = len(kube.log)
    await reconciler.reconcile(RESOURCE)
    assert len(kube.log) == writes + 1
    assert kube.status["phase"] == "running"
    stored.update(kube.status)
    await reconciler.reconcile(RESOURCE)
    assert len(kube.log) == writes + 1


def test_the_polling_schedule_reaches_its_cap_without_overflowing():
    schedule = Schedule(poll_initial=0.25, poll_factor=1e300, poll_max=30, resync_interval=300)
    assert [schedule.poll(n) for n in (0, 1, 5000)] == [0.25, 30, 30]
    steady = Schedule(poll_initial=1, poll_factor=1, poll_max=30, resync_interval=300)
    assert steady.poll(10_000) == 1
