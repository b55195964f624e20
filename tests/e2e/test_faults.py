"""
Faults from the Orgo API, one per test, injected by the simulator: each test asserts what the
resource's status says and which requests reached Orgo.

These tests run their own simulator and operator, with paces shortened so that "retried in
minutes" is seconds here (the default paces are asserted in the unit tests), in namespaces of
their own.
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import (
    Cluster,
    Stack,
    computer_manifest,
    eventually,
    namespaced,
    own_stack,
)

pytestmark = pytest.mark.e2e

PACES = {
    "ORGO_AUTH_RETRY_INTERVAL": "3",
    "ORGO_RESYNC_INTERVAL": "2",
    "ORGO_REQUEST_TIMEOUT": "2",
    "ORGO_BACKOFF_MAX": "8",
}
AUTH_RETRY = float(PACES["ORGO_AUTH_RETRY_INTERVAL"])


@pytest.fixture(scope="module")
def namespace_prefix() -> str:
    return "f"


@pytest.fixture(scope="module")
def faulty(workdir: Path, control_plane: Any, namespace_prefix: str) -> Iterator[Stack]:
    with own_stack(workdir, control_plane, name="faults", namespace_prefix=namespace_prefix,
                   env=PACES) as stack:
        yield stack
        assert stack.operator.running(), f"The operator died; see {stack.operator.log_path}"


@pytest.fixture
def orgo(faulty: Stack) -> Iterator[Any]:
    yield faulty.orgo
    faulty.tidy()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def creates(orgo, name: str) -> list[dict]:
    return [r for r in orgo.requests() if r["method"] == "POST" and r["path"] == "/api/computers"
            and (r["body"] or {}).get("name") == name]


def gets(orgo, computer_id: str) -> list[dict]:
    return [r for r in orgo.requests()
            if r["method"] == "GET" and r["path"] == f"/api/computers/{computer_id}"]


def named(orgo, workspace: str, name: str) -> list[dict]:
    return [c for c in orgo.computers() if c["workspace_id"] == workspace and c["name"] == name]


def reason_is(cluster: Cluster, name: str, reason: str):
    return lambda: (c := cluster.ready(name)) and c["reason"] == reason and c


def gaps(requests: list[dict]) -> list[float]:
    return [later["time"] - earlier["time"] for earlier, later in zip(requests, requests[1:])]


def test_400_on_create_is_not_retried_until_the_spec_changes(cluster, orgo, workspace):
    name = unique("rejected")
    orgo.add_fault(endpoint="create", name=name, status=400,
                   body={"error": "RAM exceeds the plan's limit", "request_id": "req-1"})
    cluster.apply(computer_manifest(name, workspace))

    ready = eventually(reason_is(cluster, name, "CreateRejected"), what="CreateRejected")
    assert ready["status"] == "False"
    assert "RAM exceeds the plan's limit" in ready["message"]
    time.sleep(3)
    assert len(creates(orgo, name)) == 1

    # A new generation is a new request: sent once, and this time Orgo takes it.
    orgo.clear_faults()
    cluster.kubectl("patch", "orgocomputer", name, "--type=merge",
                    "-p", json.dumps({"spec": {"ram": 8}}))
    obj = cluster.wait_ready(name)
    assert obj["status"]["observedGeneration"] == 2
    assert [r["body"]["ram"] for r in creates(orgo, name)] == [4, 8]
    assert len(named(orgo, workspace, name)) == 1


@pytest.mark.parametrize(("keys", "reason"), [
    (lambda key, other: ["sk_test_not_the_operators"], "Unauthorized"),
    (lambda key, other: [f"{key}@{other}"], "Forbidden"),
])
def test_a_refused_key_is_retried_slowly_and_recovers_once_fixed(
        cluster, orgo, workspace, faulty, keys, reason):
    name = unique("key")
    other = orgo.add_workspace(name="elsewhere")["id"]
    orgo.set_keys(keys=keys(faulty.simulator.api_key, other))
    cluster.apply(computer_manifest(name, workspace))

    ready = eventually(reason_is(cluster, name, reason), what=reason)
    assert faulty.simulator.api_key not in ready["message"]
    time.sleep(AUTH_RETRY * 1.5)
    attempts = creates(orgo, name)
    assert 1 <= len(attempts) <= 2
    assert all(gap >= AUTH_RETRY for gap in gaps(attempts))

    orgo.set_keys(keys=[faulty.simulator.api_key])
    cluster.wait_ready(name, timeout=AUTH_RETRY * 4)
    assert len(named(orgo, workspace, name)) == 1


def test_404_on_observe_creates_a_new_computer(cluster, orgo, workspace, faulty):
    name = unique("vanish")
    cluster.apply(computer_manifest(name, workspace))
    first = cluster.wait_ready(name)["status"]["id"]

    # Someone deletes the computer in Orgo, outside Kubernetes.
    httpx.delete(f"{faulty.simulator.api_url}/computers/{first}",
                 headers={"Authorization": f"Bearer {faulty.simulator.api_key}"}).raise_for_status()

    obj = eventually(lambda: (o := cluster.get(name)) and o["status"].get("id") not in (None, first)
                     and o["status"].get("phase") == "running" and o,
                     what="a new computer to replace the vanished one")
    [replacement] = named(orgo, workspace, name)
    assert replacement["id"] == obj["status"]["id"]
    vanished = [e for e in cluster.events(name) if e["reason"] == "ComputerVanished"]
    assert vanished and vanished[0]["type"] == "Warning" and first in vanished[0]["message"]
    assert len(creates(orgo, name)) == 2


def test_409_on_delete_waits_and_retries(cluster, orgo, workspace):
    name = unique("busy")
    cluster.apply(computer_manifest(name, workspace))
    computer_id = cluster.wait_ready(name)["status"]["id"]
    orgo.add_fault(endpoint="delete", name=name, status=409, times=2,
                   body={"error": "Computer is restarting", "request_id": "req-2"})

    cluster.kubectl("delete", "orgocomputer", name, "--wait=false")
    ready = eventually(reason_is(cluster, name, "DeleteFailed"), what="DeleteFailed")
    assert "Computer is restarting" in ready["message"]
    eventually(lambda: cluster.get(name) is None, timeout=60, what="the resource to go")

    deletes = [r for r in orgo.requests()
               if r["method"] == "DELETE" and r["path"] == f"/api/computers/{computer_id}"]
    assert [r["status"] for r in deletes] == [409, 409, 200]
    assert named(orgo, workspace, name) == []


def test_409_on_create_without_a_namesake_is_retried(cluster, orgo, workspace):
    name = unique("wait")
    orgo.add_fault(endpoint="create", name=name, status=409, times=1,
                   body={"error": "Workspace is being migrated", "request_id": "req-3"})
    cluster.apply(computer_manifest(name, workspace))
    cluster.wait_ready(name)
    assert [r["status"] for r in creates(orgo, name)] == [409, 201]
    messages = [e["message"] for e in cluster.events(name) if e["reason"] == "CannotCreateComputer"]
    assert any("being migrated" in m for m in messages)


def test_429_is_never_retried_before_retry_after(cluster, orgo, workspace):
    name = unique("limited")
    orgo.add_fault(endpoint="create", name=name, status=429, retry_after=3, times=2)
    cluster.apply(computer_manifest(name, workspace))
    cluster.wait_ready(name, timeout=30)

    attempts = creates(orgo, name)
    assert [r["status"] for r in attempts] == [429, 429, 201]
    assert all(gap >= 3.0 for gap in gaps(attempts)), gaps(attempts)


def test_5xx_backs_off_exponentially_with_jitter(cluster, orgo, workspace):
    name = unique("flaky")
    orgo.add_fault(endpoint="create", name=name, status=503, times=3)
    cluster.apply(computer_manifest(name, workspace))
    cluster.wait_ready(name, timeout=30)

    attempts = creates(orgo, name)
    assert [r["status"] for r in attempts] == [503, 503, 503, 201]
    # Equal jitter: the n-th wait is between half of and the whole 2^(n-1) seconds.
    for n, gap in enumerate(gaps(attempts), start=1):
        step = min(2 ** (n - 1), float(PACES["ORGO_BACKOFF_MAX"]))
        assert step / 2 <= gap <= step + 2.0, (n, gap)
    assert len(named(orgo, workspace, name)) == 1


def test_a_hung_create_times_out_and_is_looked_up_before_trying_again(
        cluster, orgo, workspace):
    name = unique("hang")
    orgo.add_fault(endpoint="create", name=name, hang=True, times=1)
    cluster.apply(computer_manifest(name, workspace))
    cluster.wait_ready(name, timeout=30)

    attempts = creates(orgo, name)
    assert len(attempts) == 2 and attempts[0]["status"] is None
    # The request timeout cut the hung call short.
    assert attempts[1]["time"] - attempts[0]["time"] < 10
    assert any(r["path"] == f"/api/workspaces/{workspace}" for r in orgo.requests())
    assert len(named(orgo, workspace, name)) == 1


def test_a_create_whose_answer_is_lost_is_adopted_not_repeated(cluster, orgo, workspace):
    name = unique("dropped")
    orgo.add_fault(endpoint="create", name=name, drop_after_commit=True, times=1)
    cluster.apply(computer_manifest(name, workspace))
    obj = cluster.wait_ready(name)

    assert len(creates(orgo, name)) == 1
    [computer] = named(orgo, workspace, name)
    assert obj["status"]["id"] == computer["id"]
    assert "AdoptedComputer" in {e["reason"] for e in cluster.events(name)}
    assert "orgo.ai/create-pending" not in obj["metadata"].get("annotations", {})


@pytest.mark.parametrize("kind", ["malformed", "non_json"])
def test_an_unreadable_answer_is_reported_and_retried(cluster, orgo, workspace, kind):
    name = unique(kind.replace("_", ""))
    cluster.apply(computer_manifest(name, workspace))
    computer_id = cluster.wait_ready(name)["status"]["id"]

    # Break the next looks at it, then bring Orgo back: the status says why, and it recovers.
    orgo.add_fault(endpoint="get", name=name, **{kind: True})
    orgo.set_status(computer_id=computer_id, status="stopped")
    ready = eventually(reason_is(cluster, name, "BadResponse"), what="BadResponse")
    assert "unreadable" in ready["message"]
    orgo.clear_faults()
    eventually(reason_is(cluster, name, "Stopped"), what="the stopped computer to be seen")
    assert len(named(orgo, workspace, name)) == 1


def test_refused_connections_are_retried_until_orgo_is_back(cluster, faulty):
    name = unique("refused")
    workspace = faulty.simulator.workspace_id  # exists from the start, so survives a restart
    faulty.simulator.stop()
    try:
        cluster.apply(computer_manifest(name, workspace))
        ready = eventually(reason_is(cluster, name, "OrgoUnavailable"), what="OrgoUnavailable")
        assert "did not answer" in ready["message"]
    finally:
        faulty.simulator.start()
    cluster.wait_ready(name, timeout=30)
    assert len(named(faulty.orgo, workspace, name)) == 1


def test_one_resource_in_trouble_does_not_hold_up_others(cluster, orgo, workspace, faulty):
    stuck, fine = unique("stuck"), unique("fine")
    orgo.add_fault(endpoint="create", name=stuck, hang=True)
    cluster.apply(computer_manifest(stuck, workspace))
    cluster.apply(computer_manifest(fine, workspace))

    cluster.wait_ready(fine)
    assert cluster.ready(stuck)["reason"] == "Creating"
    assert faulty.operator.running()


def test_a_delete_during_an_in_flight_create_leaves_no_computer(cluster, orgo, workspace):
    name = unique("short-lived")
    orgo.add_fault(endpoint="create", name=name, latency=2.0, times=1)
    cluster.apply(computer_manifest(name, workspace))
    eventually(lambda: ((cluster.get(name) or {}).get("metadata", {}).get("annotations", {})
                        .get("orgo.ai/create-pending")), what="the create to be in flight")

    cluster.kubectl("delete", "orgocomputer", name, "--timeout=60s")

    assert cluster.get(name) is None
    assert named(orgo, workspace, name) == []
    assert len(creates(orgo, name)) == 1


def test_a_namesake_held_by_another_resource_is_never_taken(control_plane, orgo, workspace):
    # Two teams pick the same name in one workspace. The second's first create fails with a
    # 5xx, so it looks for a computer of that name: it finds the first team's, and must not
    # take it, nor delete it when it goes.
    name = unique("shared")
    with namespaced(control_plane, "f") as team_a, namespaced(control_plane, "f") as team_b:
        team_a.apply(computer_manifest(name, workspace))
        held = team_a.wait_ready(name)["status"]["id"]
        orgo.add_fault(endpoint="create", name=name, status=500, times=1)
        team_b.apply(computer_manifest(name, workspace))

        eventually(reason_is(team_b, name, "NameConflict"), what="NameConflict for team b")
        assert "id" not in team_b.get(name).get("status", {})
        team_b.kubectl("delete", "orgocomputer", name, "--timeout=30s")

        assert [c["id"] for c in named(orgo, workspace, name)] == [held]
        assert team_a.get(name)["status"]["id"] == held
        assert not [r for r in orgo.requests() if r["method"] == "DELETE"
                    and r["path"] == f"/api/computers/{held}"]


def test_a_status_written_by_someone_else_is_put_right(cluster, orgo, workspace):
    name = unique("overwritten")
    cluster.apply(computer_manifest(name, workspace))
    computer_id = cluster.wait_ready(name)["status"]["id"]

    cluster.kubectl("patch", "orgocomputer", name, "--subresource=status", "--type=merge",
                    "-p", json.dumps({"status": {"phase": "bogus", "id": "not-it"}}))

    obj = eventually(lambda: (o := cluster.get(name)) and o["status"]["phase"] == "running"
                     and o, timeout=15, what="the status to be put right")
    assert obj["status"]["id"] == computer_id
    assert len(named(orgo, workspace, name)) == 1
