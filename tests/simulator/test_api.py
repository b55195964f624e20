"""The simulated Orgo API over real HTTP on loopback, one server per test, in this process."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import json
import random
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestServer

from orgo_operator.simulator.app import create_app
from orgo_operator.simulator.state import DEFAULT_WORKSPACE_ID, SimulatorState

KEY = "sk_live_account_key"
SCOPED_KEY = "sk_live_scoped_key"
OTHER_WORKSPACE_ID = "6f1c2b9e-0000-4000-8000-000000000002"
BOOT_SECONDS = 0.05
POLL_TIMEOUT_SECONDS = 5.0
POLL_INTERVAL_SECONDS = 0.02
CLIENT_TIMEOUT_SECONDS = 5.0
AUTH = {"Authorization": f"Bearer {KEY}"}
SCOPED_AUTH = {"Authorization": f"Bearer {SCOPED_KEY}"}


@dataclasses.dataclass
class Simulator:
    client: httpx.AsyncClient
    state: SimulatorState
    root: str

    async def create(self, *, expect: int = 201, **fields: Any) -> dict[str, Any]:
        body = {"workspace_id": DEFAULT_WORKSPACE_ID, "name": "agent-1", **fields}
        response = await self.client.post("/api/computers", json=body)
        assert response.status_code == expect, response.text
        return response.json()

    async def get(self, computer_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/api/computers/{computer_id}")
        assert response.status_code == 200, response.text
        return response.json()

    async def wait_for_status(self, computer_id: str, wanted: str) -> dict[str, Any]:
        deadline = time.monotonic() + POLL_TIMEOUT_SECONDS
        while True:
            computer = await self.get(computer_id)
            if computer["status"] == wanted:
                return computer
            if time.monotonic() > deadline:
                raise AssertionError(f"status stayed {computer['status']}, wanted {wanted}")
            await asyncio.sleep(POLL_INTERVAL_SECONDS)

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.client.request(method, f"/_simulator{path}", json=body)
        assert response.is_success, response.text
        return response.json()

    async def add_fault(self, **rule: Any) -> dict[str, Any]:
        return await self.control("POST", "/faults", rule)

    async def requests(self) -> list[dict[str, Any]]:
        return (await self.control("GET", "/requests"))["requests"]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    state = SimulatorState(
        boot_seconds=BOOT_SECONDS,
        api_keys=[KEY, f"{SCOPED_KEY}@{OTHER_WORKSPACE_ID}"],
        workspaces=[(DEFAULT_WORKSPACE_ID, "default"), (OTHER_WORKSPACE_ID, "other")],
        fault_seed=7,
    )
    server = TestServer(create_app(state=state), host="127.0.0.1", port=0)
    await server.start_server()
    root = str(server.make_url("")).rstrip("/")
    async with httpx.AsyncClient(
        base_url=root, headers=AUTH, timeout=CLIENT_TIMEOUT_SECONDS
    ) as client:
        yield Simulator(client=client, state=state, root=root)
    await server.close()


def assert_error_body(response: httpx.Response, status: int, *named: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    assert uuid.UUID(body["request_id"]).version == 4
    for word in named:
        assert word in body["error"], body["error"]
    return body


# Auth.


async def test_a_request_without_a_key_is_401(sim):
    response = await sim.client.get("/api/workspaces", headers={"Authorization": ""})
    assert_error_body(response, 401)


@pytest.mark.parametrize("header", [f"Bearer {KEY}x", "Bearer sk_test_simulator", f"Basic {KEY}"])
async def test_a_request_with_a_wrong_key_is_401(sim, header):
    response = await sim.client.get("/api/workspaces", headers={"Authorization": header})
    assert_error_body(response, 401)


async def test_a_scoped_key_reaches_its_workspace_only(sim):
    own = await sim.client.post(
        "/api/computers",
        json={"workspace_id": OTHER_WORKSPACE_ID, "name": "mine"},
        headers=SCOPED_AUTH,
    )
    assert own.status_code == 201
    foreign = await sim.create(name="theirs")
    scope_error = {
        "code": "workspace_scope_mismatch",
        "key_workspace_id": OTHER_WORKSPACE_ID,
        "target_workspace_id": DEFAULT_WORKSPACE_ID,
    }

    attempts = [
        ("POST", "/api/computers", {"workspace_id": DEFAULT_WORKSPACE_ID, "name": "x"}),
        ("GET", f"/api/computers/{foreign['id']}", None),
        ("DELETE", f"/api/computers/{foreign['id']}", None),
        ("POST", f"/api/computers/{foreign['id']}/stop", None),
        ("GET", f"/api/workspaces/{DEFAULT_WORKSPACE_ID}", None),
        ("GET", f"/api/projects/{DEFAULT_WORKSPACE_ID}", None),
    ]
    for method, path, body in attempts:
        response = await sim.client.request(method, path, json=body, headers=SCOPED_AUTH)
        error = assert_error_body(response, 403)
        assert {field: error[field] for field in scope_error} == scope_error

    listing = await sim.client.get("/api/workspaces", headers=SCOPED_AUTH)
    assert [w["id"] for w in listing.json()["workspaces"]] == [OTHER_WORKSPACE_ID]
    assert (await sim.get(foreign["id"]))["name"] == "theirs"


# Create.


async def test_create_answers_201_with_the_defaults_and_status_starting(sim):
    computer = await sim.create()

    assert uuid.UUID(computer["id"]).version == 4
    expected = {
        "name": "agent-1",
        "workspace_id": DEFAULT_WORKSPACE_ID,
        "project_name": "default",
        "os": "linux",
        "ram": 4,
        "cpu": 2,
        "gpu": "none",
        "disk_size_gb": 8,
        "resolution": "1280x720x24",
        "status": "starting",
        "auto_stop_minutes": None,
    }
    assert {field: computer[field] for field in expected} == expected
    assert "image" not in computer
    assert computer["url"] == f"{sim.root}/workspaces/{computer['id']}"
    assert computer["created_at"].endswith("Z")
    created = datetime.datetime.fromisoformat(computer["created_at"])
    assert abs(created.timestamp() - time.time()) < 60
    assert computer["instance_id"] and computer["fly_instance_id"] == computer["instance_id"]
    assert computer["hostname"] and computer["connection_url"].startswith(sim.root)
    assert len(computer["vnc_password"]) >= 12

    page = await sim.client.get(computer["url"])
    assert page.status_code == 200 and "agent-1" in page.text
    assert (await sim.client.get(computer["connection_url"])).status_code == 200


async def test_create_keeps_every_given_field(sim):
    fields = {
        "os": "linux",
        "ram": 16,
        "cpu": 8,
        "gpu": "a100-80gb",
        "image": "registry.fly.io/orgoforge:abc123",
        "resolution": "1920x1080x24",
        "disk_size_gb": 40,
        "auto_stop_minutes": 0,
    }
    computer = await sim.create(**fields)
    assert {field: computer[field] for field in fields} == fields


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"workspace_id": None}, ["workspace_id", "required"]),
        ({"workspace_id": 7}, ["workspace_id"]),
        ({"name": None}, ["name", "required"]),
        ({"name": ""}, ["name", "1 to 64"]),
        ({"name": "n" * 65}, ["name", "1 to 64"]),
        ({"name": 12}, ["name"]),
        ({"os": "windows"}, ["os", "linux"]),
        ({"ram": 3}, ["ram", "4, 8, 16, 32, 64"]),
        ({"ram": "4"}, ["ram", "4, 8, 16, 32, 64"]),
        ({"ram": True}, ["ram"]),
        ({"cpu": 3}, ["cpu", "1, 2, 4, 8, 16"]),
        ({"cpu": 2.0}, ["cpu"]),
        ({"gpu": "h100"}, ["gpu", "none, a10, l40s, a100-40gb, a100-80gb"]),
        ({"image": ""}, ["image"]),
        ({"resolution": "1920x1080"}, ["resolution", "WIDTHxHEIGHTxDEPTH"]),
        ({"resolution": "0x0x0"}, ["resolution"]),
        ({"disk_size_gb": 0}, ["disk_size_gb", "at least 1"]),
        ({"disk_size_gb": 1.5}, ["disk_size_gb"]),
        ({"auto_stop_minutes": -1}, ["auto_stop_minutes", "at least 0"]),
        ({"auto_stop_minutes": "15"}, ["auto_stop_minutes"]),
    ],
)
async def test_create_refuses_a_bad_field_with_400_naming_it(sim, changes, named):
    body = {"workspace_id": DEFAULT_WORKSPACE_ID, "name": "agent-1", **changes}
    body = {field: value for field, value in body.items() if value is not None}
    response = await sim.client.post("/api/computers", json=body)
    assert_error_body(response, 400, *named)
    assert sim.state.all_computers() == []


@pytest.mark.parametrize("content", [b"[1, 2]", b"{not json", b""])
async def test_create_refuses_a_body_that_is_not_a_json_object(sim, content):
    response = await sim.client.post("/api/computers", content=content)
    assert_error_body(response, 400, "JSON")


async def test_create_in_an_unknown_workspace_is_404(sim):
    response = await sim.client.post(
        "/api/computers", json={"workspace_id": str(uuid.uuid4()), "name": "x"}
    )
    assert_error_body(response, 404, "Workspace")


async def test_a_duplicate_name_is_409_naming_the_workspace_and_the_name(sim):
    await sim.create(name="twin")
    response = await sim.client.post(
        "/api/computers", json={"workspace_id": DEFAULT_WORKSPACE_ID, "name": "twin"}
    )
    assert_error_body(response, 409, "twin", "default", DEFAULT_WORKSPACE_ID)
    assert len(sim.state.all_computers()) == 1
    await sim.create(name="twin", workspace_id=OTHER_WORKSPACE_ID)


# Lifecycle.


async def test_a_computer_runs_once_its_boot_time_has_passed(sim):
    computer = await sim.create()
    assert computer["status"] == "starting"
    running = await sim.wait_for_status(computer["id"], "running")
    assert running["vnc_password"] == computer["vnc_password"]


async def test_an_error_outcome_makes_the_boot_end_in_error_with_a_message(sim):
    await sim.control("PUT", "/outcomes/doomed", {"status": "error", "message": "No capacity."})
    computer = await sim.create(name="doomed")
    failed = await sim.wait_for_status(computer["id"], "error")
    assert failed["status_message"] == "No capacity."

    removed = await sim.control("DELETE", "/outcomes/doomed")
    assert removed["removed"] is True
    await sim.client.post(f"/api/computers/{computer['id']}/start")
    recovered = await sim.wait_for_status(computer["id"], "running")
    assert "status_message" not in recovered


async def test_unknown_computers_are_404_and_a_deleted_one_is_gone(sim):
    missing = await sim.client.get(f"/api/computers/{uuid.uuid4()}")
    assert_error_body(missing, 404, "not found")

    computer = await sim.create()
    deleted = await sim.client.delete(f"/api/computers/{computer['id']}")
    assert (deleted.status_code, deleted.json()) == (200, {"success": True})
    assert_error_body(await sim.client.get(f"/api/computers/{computer['id']}"), 404)
    assert_error_body(await sim.client.delete(f"/api/computers/{computer['id']}"), 404)
    for action in ("start", "stop", "restart"):
        response = await sim.client.post(f"/api/computers/{computer['id']}/{action}")
        assert_error_body(response, 404)


async def test_workspaces_list_with_counts_and_show_their_computers(sim):
    first = await sim.create(name="one")
    await sim.create(name="two")

    listing = await sim.client.get("/api/workspaces")
    assert listing.status_code == 200
    summaries = {w["id"]: w for w in listing.json()["workspaces"]}
    assert set(summaries) == {DEFAULT_WORKSPACE_ID, OTHER_WORKSPACE_ID}
    assert summaries[DEFAULT_WORKSPACE_ID]["name"] == "default"
    assert summaries[DEFAULT_WORKSPACE_ID]["computer_count"] == 2
    assert summaries[OTHER_WORKSPACE_ID]["computer_count"] == 0
    assert summaries[DEFAULT_WORKSPACE_ID]["created_at"].endswith("Z")

    lookup = (await sim.client.get(f"/api/workspaces/{DEFAULT_WORKSPACE_ID}")).json()
    assert (lookup["id"], lookup["name"], lookup["computer_count"]) == (
        DEFAULT_WORKSPACE_ID,
        "default",
        2,
    )
    assert sorted(c["name"] for c in lookup["computers"]) == ["one", "two"]
    listed = next(c for c in lookup["computers"] if c["id"] == first["id"])
    assert listed["vnc_password"] == first["vnc_password"]

    assert_error_body(await sim.client.get(f"/api/workspaces/{uuid.uuid4()}"), 404)


async def test_projects_are_a_deprecated_alias_with_computers_under_desktops(sim):
    await sim.create(name="one")

    listing = (await sim.client.get("/api/projects")).json()
    assert listing["projects"] == listing["workspaces"]
    assert {p["id"] for p in listing["projects"]} == {DEFAULT_WORKSPACE_ID, OTHER_WORKSPACE_ID}

    project = (await sim.client.get(f"/api/projects/{DEFAULT_WORKSPACE_ID}")).json()
    assert "computers" not in project
    assert [d["name"] for d in project["desktops"]] == ["one"]
    assert project["computer_count"] == 1
    assert_error_body(await sim.client.get(f"/api/projects/{uuid.uuid4()}"), 404)


async def test_stop_start_and_restart_answer_success_and_move_the_state(sim):
    computer = await sim.create()
    computer_id = computer["id"]
    await sim.wait_for_status(computer_id, "running")

    stop = await sim.client.post(f"/api/computers/{computer_id}/stop")
    assert stop.json() == {"success": True, "status": "stopping"}
    await sim.wait_for_status(computer_id, "stopped")
    again = await sim.client.post(f"/api/computers/{computer_id}/stop")
    assert again.json() == {"success": True, "status": "stopping"}
    assert (await sim.get(computer_id))["status"] == "stopped"

    resize = await sim.client.patch(f"/api/computers/{computer_id}/resize", json={"vcpus": 4})
    assert_error_body(resize, 409, "stopped")

    start = await sim.client.post(f"/api/computers/{computer_id}/start")
    assert start.json() == {"success": True, "status": "starting"}
    await sim.wait_for_status(computer_id, "running")
    again = await sim.client.post(f"/api/computers/{computer_id}/start")
    assert again.json() == {"success": True, "status": "starting"}
    assert (await sim.get(computer_id))["status"] == "running"

    restart = await sim.client.post(f"/api/computers/{computer_id}/restart")
    assert restart.json() == {"success": True, "status": "restarting"}
    restarted = await sim.wait_for_status(computer_id, "running")
    assert restarted["vnc_password"] != computer["vnc_password"]
    assert restarted["instance_id"] == computer["instance_id"]


async def test_resize_changes_a_running_computer_and_refuses_bad_values(sim):
    computer = await sim.create()
    computer_id = computer["id"]
    await sim.wait_for_status(computer_id, "running")
    path = f"/api/computers/{computer_id}/resize"

    for body, named in [
        ({"vcpus": 3}, "vcpus"),
        ({"mem_gb": 5}, "mem_gb"),
        ({"disk_size_gb": 4}, "disk_size_gb"),
        ({"bandwidth_limit_mbps": 0}, "bandwidth_limit_mbps"),
        ({}, "Nothing to resize"),
    ]:
        assert_error_body(await sim.client.patch(path, json=body), 400, named)

    resized = await sim.client.patch(
        path, json={"vcpus": 8, "mem_gb": 32, "disk_size_gb": 64, "bandwidth_limit_mbps": 50}
    )
    assert resized.status_code == 200 and resized.json()["success"] is True
    after = await sim.get(computer_id)
    assert (after["cpu"], after["ram"], after["disk_size_gb"]) == (8, 32, 64)
    assert after["bandwidth_limit_mbps"] == 50


async def test_unknown_api_routes_answer_json_errors(sim):
    assert_error_body(await sim.client.get("/api/nowhere"), 404)
    assert_error_body(await sim.client.put("/api/workspaces"), 405)


# Control endpoints.


async def test_a_forced_status_shows_even_when_it_is_unknown(sim):
    computer = await sim.create()
    forced = await sim.control(
        "POST", f"/computers/{computer['id']}/status", {"status": "hibernating"}
    )
    assert forced["status"] == "hibernating"
    assert (await sim.get(computer["id"]))["status"] == "hibernating"

    await sim.control(
        "POST", f"/computers/{computer['id']}/status", {"status": "error", "message": "Disk lost."}
    )
    assert (await sim.get(computer["id"]))["status_message"] == "Disk lost."


async def test_the_computers_control_lists_full_objects_of_every_workspace(sim):
    await sim.create(name="one")
    await sim.create(name="two", workspace_id=OTHER_WORKSPACE_ID)
    computers = (await sim.control("GET", "/computers"))["computers"]
    assert sorted(c["name"] for c in computers) == ["one", "two"]
    assert all("vnc_password" in c and "url" in c for c in computers)


async def test_the_request_log_records_every_api_request_in_order_without_auth(sim):
    computer = await sim.create(name="logged")
    await sim.client.get(f"/api/computers/{computer['id']}")
    await sim.client.get("/api/workspaces", headers={"Authorization": "Bearer wrong"})
    await sim.control("GET", "/computers")

    log = await sim.requests()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("POST", "/api/computers", 201),
        ("GET", f"/api/computers/{computer['id']}", 200),
        ("GET", "/api/workspaces", 401),
    ]
    assert log[0]["body"] == {"workspace_id": DEFAULT_WORKSPACE_ID, "name": "logged"}
    assert log[1]["body"] is None
    assert log[0]["time"] <= log[1]["time"] <= log[2]["time"]
    assert abs(log[0]["time"] - time.time()) < 60
    serialized = json.dumps(log)
    assert KEY not in serialized and "Authorization" not in serialized and "wrong" not in serialized

    await sim.control("DELETE", "/requests")
    assert await sim.requests() == []


async def test_reset_forgets_computers_requests_outcomes_and_faults(sim):
    await sim.create()
    await sim.control("PUT", "/outcomes/agent-1", {"status": "error"})
    await sim.add_fault(endpoint="get", status=500)
    await sim.control("POST", "/workspaces", {"name": "extra"})

    await sim.control("POST", "/reset")

    assert (await sim.control("GET", "/computers"))["computers"] == []
    assert await sim.requests() == []
    assert (await sim.control("GET", "/outcomes"))["outcomes"] == []
    assert (await sim.control("GET", "/faults"))["faults"] == []
    listing = await sim.client.get("/api/workspaces")
    assert listing.status_code == 200
    assert {w["name"] for w in listing.json()["workspaces"]} == {"default", "other", "extra"}


async def test_new_workspaces_can_be_added_with_or_without_an_id(sim):
    made = await sim.control("POST", "/workspaces", {"id": "ws-new", "name": "new"})
    assert (made["id"], made["name"], made["computer_count"]) == ("ws-new", "new", 0)
    generated = await sim.control("POST", "/workspaces", {"name": "anon"})
    assert uuid.UUID(generated["id"])
    duplicate = await sim.client.post("/_simulator/workspaces", json={"id": "ws-new", "name": "x"})
    assert_error_body(duplicate, 409)
    await sim.create(workspace_id="ws-new")


async def test_boot_seconds_apply_to_computers_created_after(sim):
    await sim.control("PUT", "/boot-seconds", {"seconds": 60})
    slow = await sim.create(name="slow")
    await asyncio.sleep(BOOT_SECONDS * 2)
    assert (await sim.get(slow["id"]))["status"] == "starting"

    await sim.control("PUT", "/boot-seconds", {"seconds": 0})
    quick = await sim.create(name="quick")
    await sim.wait_for_status(quick["id"], "running")
    bad = await sim.client.put("/_simulator/boot-seconds", json={"seconds": -1})
    assert_error_body(bad, 400, "seconds")


async def test_replacing_the_keys_locks_out_the_old_ones(sim):
    await sim.control("PUT", "/keys", {"keys": ["sk_rotated", f"sk_narrow@{OTHER_WORKSPACE_ID}"]})
    assert_error_body(await sim.client.get("/api/workspaces"), 401)
    rotated = await sim.client.get(
        "/api/workspaces", headers={"Authorization": "Bearer sk_rotated"}
    )
    assert rotated.status_code == 200
    narrow = await sim.client.get(
        f"/api/workspaces/{DEFAULT_WORKSPACE_ID}", headers={"Authorization": "Bearer sk_narrow"}
    )
    assert_error_body(narrow, 403)
    assert_error_body(await sim.client.put("/_simulator/keys", json={"keys": ["@x"]}), 400)


# Faults.


async def test_a_status_fault_answers_its_body_and_skips_the_real_action(sim):
    body = {"error": "Upstream desktop failed.", "upstream_status": 502}
    rule = await sim.add_fault(endpoint="create", status=502, body=body)
    assert rule["kind"] == "status"

    response = await sim.client.post(
        "/api/computers", json={"workspace_id": DEFAULT_WORKSPACE_ID, "name": "x"}
    )
    assert (response.status_code, response.json()) == (502, body)
    assert sim.state.all_computers() == []
    log = await sim.requests()
    assert (log[0]["status"], log[0]["fault"], log[0]["fault_id"]) == (502, "status", rule["id"])


async def test_a_status_fault_without_a_body_sends_a_standard_error_body(sim):
    await sim.add_fault(endpoint="get", status=503)
    computer_id = str(uuid.uuid4())
    assert_error_body(await sim.client.get(f"/api/computers/{computer_id}"), 503, "Simulated")


async def test_retry_after_sets_the_header(sim):
    await sim.add_fault(endpoint="any", status=429, retry_after=2)
    response = await sim.client.get("/api/workspaces")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"


async def test_latency_delays_the_real_answer(sim):
    delay = 0.2
    await sim.add_fault(endpoint="workspace", latency=delay)
    started = time.monotonic()
    response = await sim.client.get("/api/workspaces")
    assert time.monotonic() - started >= delay
    assert response.status_code == 200 and response.json()["workspaces"]
    assert (await sim.requests())[0]["fault"] == "latency"


async def test_a_hang_never_answers_until_the_client_gives_up(sim):
    await sim.add_fault(endpoint="get", hang=True)
    with pytest.raises(httpx.ReadTimeout):
        await sim.client.get(f"/api/computers/{uuid.uuid4()}", timeout=0.3)
    log = await sim.requests()
    assert (log[0]["status"], log[0]["fault"]) == (None, "hang")


async def test_drop_after_commit_creates_the_computer_but_sends_nothing(sim):
    await sim.add_fault(endpoint="create", drop_after_commit=True, times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        await sim.client.post(
            "/api/computers", json={"workspace_id": DEFAULT_WORKSPACE_ID, "name": "ghost"}
        )
    computers = (await sim.control("GET", "/computers"))["computers"]
    assert [c["name"] for c in computers] == ["ghost"]

    # The retry a client would make sees the computer that exists.
    retry = await sim.client.post(
        "/api/computers", json={"workspace_id": DEFAULT_WORKSPACE_ID, "name": "ghost"}
    )
    assert_error_body(retry, 409, "ghost")
    log = await sim.requests()
    assert [(r["status"], r.get("fault")) for r in log] == [
        (None, "drop_after_commit"),
        (409, None),
    ]


async def test_malformed_answers_200_with_truncated_json(sim):
    await sim.add_fault(endpoint="get", malformed=True)
    response = await sim.client.get(f"/api/computers/{uuid.uuid4()}")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError):
        response.json()


async def test_non_json_answers_an_html_page(sim):
    await sim.add_fault(endpoint="workspace", non_json=True, times=1)
    await sim.add_fault(endpoint="workspace", non_json=True, status=502, times=1)
    for status in (200, 502):
        response = await sim.client.get("/api/workspaces")
        assert response.status_code == status
        assert response.headers["Content-Type"].startswith("text/html")
        assert response.text.lstrip().startswith("<!DOCTYPE html>")


async def test_times_limits_how_many_requests_a_fault_hits(sim):
    rule = await sim.add_fault(endpoint="workspace", status=500, times=2)
    statuses = [(await sim.client.get("/api/workspaces")).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    listed = (await sim.control("GET", "/faults"))["faults"]
    assert (listed[0]["id"], listed[0]["hits"], listed[0]["remaining"]) == (rule["id"], 2, 0)


async def test_probability_with_a_seed_hits_a_reproducible_share(sim):
    rolls = 20
    seed = 5
    await sim.add_fault(endpoint="workspace", status=503, probability=0.5, seed=seed)
    statuses = [(await sim.client.get("/api/workspaces")).status_code for _ in range(rolls)]

    expected_rng = random.Random(seed)
    assert statuses == [503 if expected_rng.random() < 0.5 else 200 for _ in range(rolls)]
    assert 503 in statuses and 200 in statuses


async def test_a_name_filter_limits_a_fault_to_one_computer(sim):
    flaky = await sim.create(name="flaky")
    steady = await sim.create(name="steady")
    await sim.add_fault(endpoint="any", status=500, name="flaky")

    assert (await sim.client.get(f"/api/computers/{flaky['id']}")).status_code == 500
    assert (await sim.client.get(f"/api/computers/{steady['id']}")).status_code == 200
    assert (await sim.client.get("/api/workspaces")).status_code == 200
    blocked = await sim.client.post(
        "/api/computers", json={"workspace_id": OTHER_WORKSPACE_ID, "name": "flaky"}
    )
    assert blocked.status_code == 500


async def test_endpoint_names_select_their_routes(sim):
    computer = await sim.create()
    await sim.wait_for_status(computer["id"], "running")
    computer_path = f"/api/computers/{computer['id']}"
    calls = {
        "get": ("GET", computer_path, None),
        "resize": ("PATCH", f"{computer_path}/resize", {"vcpus": 4}),
        "restart": ("POST", f"{computer_path}/restart", None),
        "stop": ("POST", f"{computer_path}/stop", None),
        "start": ("POST", f"{computer_path}/start", None),
        "delete": ("DELETE", computer_path, None),
    }
    for endpoint, (method, path, body) in calls.items():
        await sim.add_fault(endpoint=endpoint, status=418, times=1)
        response = await sim.client.request(method, path, json=body)
        assert response.status_code == 418, endpoint
    assert (await sim.get(computer["id"]))["status"] == "running"


async def test_a_bad_fault_rule_is_400_naming_the_field(sim):
    response = await sim.client.post("/_simulator/faults", json={"endpoint": "reboot"})
    assert_error_body(response, 400, "endpoint")
    listed = await sim.client.get("/_simulator/faults")
    assert listed.json() == {"faults": []}


async def test_faults_can_be_removed_one_at_a_time_or_all(sim):
    first = await sim.add_fault(endpoint="get", status=500)
    await sim.add_fault(endpoint="get", status=502)
    await sim.control("DELETE", f"/faults/{first['id']}")
    assert [f["status"] for f in (await sim.control("GET", "/faults"))["faults"]] == [502]
    assert_error_body(await sim.client.delete(f"/_simulator/faults/{first['id']}"), 404)
    await sim.control("DELETE", "/faults")
    assert (await sim.control("GET", "/faults"))["faults"] == []
