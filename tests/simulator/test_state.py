"""The simulator's in-memory model, driven by a hand-moved clock: no sleeps, exact times."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from orgo_operator.simulator.state import (
    CODE_WORKSPACE_SCOPE_MISMATCH,
    DEFAULT_API_KEY,
    DEFAULT_WORKSPACE_ID,
    ApiKey,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Outcome,
    SimulatorState,
    Unauthorized,
    iso_timestamp,
    parse_create_body,
)

BOOT_SECONDS = 2.0
START_TIME = 1_700_000_000.0
OTHER_WORKSPACE_ID = "ws-other"
SCOPED_SECRET = "sk_scoped_other"


@dataclasses.dataclass
class FakeClock:
    now: float = START_TIME

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(clock: FakeClock) -> SimulatorState:
    return SimulatorState(
        clock=clock,
        boot_seconds=BOOT_SECONDS,
        api_keys=[DEFAULT_API_KEY, f"{SCOPED_SECRET}@{OTHER_WORKSPACE_ID}"],
        workspaces=[(DEFAULT_WORKSPACE_ID, "default"), (OTHER_WORKSPACE_ID, "other")],
    )


@pytest.fixture
def key() -> ApiKey:
    return ApiKey(secret=DEFAULT_API_KEY)


def create(state: SimulatorState, key: ApiKey, **fields: Any):
    body = {"workspace_id": DEFAULT_WORKSPACE_ID, "name": "agent-1", **fields}
    return state.create_computer(key=key, body=body)


def status_of(state: SimulatorState, computer_id: str) -> str:
    computer = state.find_computer(computer_id)
    assert computer is not None
    return computer.status


def test_a_new_computer_is_starting_until_its_boot_seconds_have_passed(state, key, clock):
    computer = create(state, key)
    assert computer.status == "starting"

    clock.advance(BOOT_SECONDS - 0.01)
    assert status_of(state, computer.id) == "starting"

    clock.advance(0.01)
    assert status_of(state, computer.id) == "running"


def test_stop_then_start_goes_through_stopping_and_starting(state, key, clock):
    computer = create(state, key)
    clock.advance(BOOT_SECONDS)

    state.stop_computer(key=key, computer_id=computer.id)
    assert status_of(state, computer.id) == "stopping"
    clock.advance(BOOT_SECONDS)
    assert status_of(state, computer.id) == "stopped"

    state.start_computer(key=key, computer_id=computer.id)
    assert status_of(state, computer.id) == "starting"
    clock.advance(BOOT_SECONDS)
    assert status_of(state, computer.id) == "running"


def test_start_and_stop_are_idempotent(state, key, clock):
    computer = create(state, key)
    clock.advance(BOOT_SECONDS)

    state.start_computer(key=key, computer_id=computer.id)
    assert status_of(state, computer.id) == "running"

    state.stop_computer(key=key, computer_id=computer.id)
    clock.advance(BOOT_SECONDS / 2)

    # A second stop must not push the end of the first one further away.
    state.stop_computer(key=key, computer_id=computer.id)
    clock.advance(BOOT_SECONDS / 2)
    assert status_of(state, computer.id) == "stopped"


def test_restart_rotates_the_vnc_password_once(state, key, clock):
    computer = create(state, key)
    clock.advance(BOOT_SECONDS)
    first_password = computer.vnc_password

    state.restart_computer(key=key, computer_id=computer.id)
    second_password = computer.vnc_password
    assert second_password != first_password
    assert status_of(state, computer.id) == "restarting"

    state.restart_computer(key=key, computer_id=computer.id)
    assert computer.vnc_password == second_password

    clock.advance(BOOT_SECONDS)
    assert status_of(state, computer.id) == "running"


def test_an_outcome_rule_decides_how_a_boot_ends(state, key, clock):
    state.set_outcome(name="broken", outcome=Outcome(status="error", message="Image pull failed."))
    computer = create(state, key, name="broken")
    clock.advance(BOOT_SECONDS)

    assert status_of(state, computer.id) == "error"
    assert computer.status_message == "Image pull failed."
    assert state.computer_json(computer, site_url="http://x")["status_message"] == (
        "Image pull failed."
    )


def test_an_outcome_rule_reaches_a_computer_still_booting_but_not_one_running(state, key, clock):
    booting = create(state, key, name="late")
    running = create(state, key, name="early")
    clock.advance(BOOT_SECONDS)
    assert status_of(state, running.id) == "running"
    state.set_outcome(name="late", outcome=Outcome(status="error"))
    state.set_outcome(name="early", outcome=Outcome(status="error"))

    assert status_of(state, booting.id) == "error"
    assert status_of(state, running.id) == "running"

    # Its next boot ends in the rule's status; without the rule it runs again.
    state.restart_computer(key=key, computer_id=running.id)
    clock.advance(BOOT_SECONDS)
    assert status_of(state, running.id) == "error"
    assert state.clear_outcome("early") is True
    state.start_computer(key=key, computer_id=running.id)
    clock.advance(BOOT_SECONDS)
    assert status_of(state, running.id) == "running"
    assert "status_message" not in state.computer_json(running, site_url="http://x")


def test_a_running_computer_stops_itself_after_its_auto_stop_minutes(state, key, clock):
    computer = create(state, key, auto_stop_minutes=15)
    clock.advance(BOOT_SECONDS + 15 * 60 - 1)
    assert status_of(state, computer.id) == "running"

    clock.advance(1)
    assert status_of(state, computer.id) == "stopped"
    assert "15 idle minutes" in computer.status_message


def test_auto_stop_zero_keeps_a_computer_on(state, key, clock):
    computer = create(state, key, auto_stop_minutes=0)
    clock.advance(BOOT_SECONDS + 24 * 3600)
    assert status_of(state, computer.id) == "running"


def test_boot_seconds_changes_only_computers_created_after(state, key, clock):
    before = create(state, key, name="before")
    state.boot_seconds = 10.0
    after = create(state, key, name="after")

    clock.advance(BOOT_SECONDS)
    assert status_of(state, before.id) == "running"
    assert status_of(state, after.id) == "starting"
    clock.advance(10.0)
    assert status_of(state, after.id) == "running"


def test_a_forced_status_holds_and_clears_any_transition(state, key, clock):
    computer = create(state, key)
    state.force_status(computer_id=computer.id, status="hibernating", message=None)
    clock.advance(BOOT_SECONDS * 10)
    assert status_of(state, computer.id) == "hibernating"

    # An unknown status is not running: start boots it again.
    state.start_computer(key=key, computer_id=computer.id)
    assert status_of(state, computer.id) == "starting"

    with pytest.raises(NotFound):
        state.force_status(computer_id="missing", status="error", message=None)


def test_resize_needs_a_running_computer_and_a_growing_disk(state, key, clock):
    computer = create(state, key)
    with pytest.raises(Conflict, match="starting"):
        state.resize_computer(key=key, computer_id=computer.id, body={"vcpus": 4})

    clock.advance(BOOT_SECONDS)
    with pytest.raises(BadRequest, match="disk_size_gb"):
        state.resize_computer(key=key, computer_id=computer.id, body={"disk_size_gb": 4})
    state.resize_computer(
        key=key,
        computer_id=computer.id,
        body={"vcpus": 4, "mem_gb": 16, "disk_size_gb": 20, "bandwidth_limit_mbps": 100},
    )
    assert (computer.cpu, computer.ram, computer.disk_size_gb) == (4, 16, 20)
    assert computer.bandwidth_limit_mbps == 100


def test_duplicate_names_conflict_only_within_one_workspace(state, key):
    create(state, key)
    with pytest.raises(Conflict, match="agent-1") as caught:
        create(state, key)
    assert "default" in caught.value.message
    state.create_computer(key=key, body={"workspace_id": OTHER_WORKSPACE_ID, "name": "agent-1"})


def test_a_deleted_name_can_be_used_again(state, key):
    computer = create(state, key)
    state.delete_computer(key=key, computer_id=computer.id)
    with pytest.raises(NotFound):
        state.get_computer(key=key, computer_id=computer.id)
    create(state, key)


def test_authentication_accepts_only_configured_bearer_keys(state):
    assert state.authenticate(f"Bearer {DEFAULT_API_KEY}").workspace_id is None
    assert state.authenticate(f"Bearer {SCOPED_SECRET}").workspace_id == OTHER_WORKSPACE_ID
    for header in (None, "", DEFAULT_API_KEY, f"Basic {DEFAULT_API_KEY}", "Bearer nope"):
        with pytest.raises(Unauthorized):
            state.authenticate(header)


def test_a_scoped_key_is_refused_elsewhere_with_both_workspace_ids(state, key):
    scoped = state.authenticate(f"Bearer {SCOPED_SECRET}")
    computer = create(state, key)
    with pytest.raises(Forbidden) as caught:
        state.get_computer(key=scoped, computer_id=computer.id)
    assert caught.value.extra == {
        "code": CODE_WORKSPACE_SCOPE_MISMATCH,
        "key_workspace_id": OTHER_WORKSPACE_ID,
        "target_workspace_id": DEFAULT_WORKSPACE_ID,
    }
    assert [w.id for w in state.workspaces_for(scoped)] == [OTHER_WORKSPACE_ID]


def test_api_keys_parse_with_an_optional_scope_and_never_show_the_secret():
    assert ApiKey.parse("sk_a") == ApiKey(secret="sk_a")
    assert ApiKey.parse("sk_a@ws-1") == ApiKey(secret="sk_a", workspace_id="ws-1")
    assert "sk_a" not in repr(ApiKey.parse("sk_a@ws-1"))
    for text in ("", "@ws-1", "sk_a@"):
        with pytest.raises(ValueError):
            ApiKey.parse(text)


def test_a_computer_repr_leaves_out_the_vnc_password(state, key):
    computer = create(state, key)
    assert computer.vnc_password not in repr(computer)


def test_the_create_body_gets_the_documented_defaults():
    spec = parse_create_body({"workspace_id": "ws", "name": "n"})
    assert (spec.os, spec.ram, spec.cpu, spec.gpu) == ("linux", 4, 2, "none")
    assert (spec.resolution, spec.disk_size_gb) == ("1280x720x24", 8)
    assert spec.image is None and spec.auto_stop_minutes is None


def test_reset_forgets_computers_requests_outcomes_and_faults_but_keeps_the_rest(state, key):
    create(state, key)
    state.record_request(method="GET", path="/api/workspaces", body=None)
    state.set_outcome(name="x", outcome=Outcome(status="error"))
    state.faults.add({"endpoint": "any", "status": 500})

    state.reset()

    assert state.all_computers() == []
    assert state.requests == []
    assert state.outcomes == {}
    assert state.faults.rules == []
    assert len(state.all_workspaces()) == 2
    assert state.authenticate(f"Bearer {DEFAULT_API_KEY}")


def test_timestamps_are_iso_8601_utc_with_z():
    assert iso_timestamp(START_TIME) == "2023-11-14T22:13:20Z"
