"""The ``orgo-simulator`` command as a real process, and `SimulatorControl` against it."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from orgo_operator.simulator.__main__ import main
from orgo_operator.simulator.control import SimulatorControl, SimulatorControlError
from orgo_operator.simulator.state import DEFAULT_API_KEY, DEFAULT_WORKSPACE_ID

COMMAND = Path(sys.executable).with_name("orgo-simulator")
START_TIMEOUT_SECONDS = 15.0
STOP_TIMEOUT_SECONDS = 5.0
POLL_TIMEOUT_SECONDS = 5.0
POLL_INTERVAL_SECONDS = 0.02
SECRET_KEY = "sk_live_command_secret_1"
SCOPED_SECRET_KEY = "sk_live_command_scoped_2"


@dataclasses.dataclass
class RunningSimulator:
    process: subprocess.Popen[str]
    port: int
    announced: str
    stderr_path: Path

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def client(self, *, key: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.api_url, headers=headers, timeout=5.0)

    def stop(self, signum: int) -> tuple[int, str]:
        """Send a signal; return the exit code and everything the process printed."""
        self.process.send_signal(signum)
        stdout, _ = self.process.communicate(timeout=STOP_TIMEOUT_SECONDS)
        return self.process.returncode, self.announced + stdout + self.stderr_path.read_text()


def launch(
    directory: Path, args: Sequence[str], *, env: dict[str, str] | None = None
) -> RunningSimulator:
    """Start the command with port 0 and wait for its port file and its first line."""
    assert COMMAND.exists(), f"{COMMAND} is missing: install the project in this environment"
    port_file = directory / "simulator.port"
    stderr_path = directory / "simulator.stderr"
    environment = {key: value for key, value in os.environ.items() if "ORGO" not in key}
    environment.update(env or {})
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [str(COMMAND), "--port", "0", "--port-file", str(port_file), *args],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=environment,
        )

    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not port_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the simulator did not start: {stderr_path.read_text()}")
        time.sleep(POLL_INTERVAL_SECONDS)
    assert process.stdout is not None
    announced = process.stdout.readline()
    return RunningSimulator(
        process=process,
        port=int(port_file.read_text()),
        announced=announced,
        stderr_path=stderr_path,
    )


@pytest.fixture
def launched() -> Iterator[list[RunningSimulator]]:
    """Simulators a test started; any still running at the end are killed."""
    started: list[RunningSimulator] = []
    yield started
    for simulator in started:
        if simulator.process.poll() is None:
            simulator.process.kill()
            simulator.process.wait()


def wait_for_status(client: httpx.Client, computer_id: str, wanted: str) -> dict:
    deadline = time.monotonic() + POLL_TIMEOUT_SECONDS
    while True:
        computer = client.get(f"/computers/{computer_id}").json()
        if computer["status"] == wanted or time.monotonic() > deadline:
            assert computer["status"] == wanted
            return computer
        time.sleep(POLL_INTERVAL_SECONDS)


def test_the_command_serves_on_a_free_port_and_stops_on_sigterm(tmp_path, launched):
    simulator = launch(
        tmp_path,
        [
            "--boot-seconds",
            "0.05",
            "--api-key",
            SECRET_KEY,
            "--api-key",
            f"{SCOPED_SECRET_KEY}@ws-b",
            "--workspace",
            "ws-a=alpha",
            "--workspace",
            "ws-b",
            "--log-level",
            "debug",
        ],
    )
    launched.append(simulator)
    assert simulator.announced == f"Orgo simulator listening on {simulator.api_url}\n"

    with simulator.client(key=SECRET_KEY) as client:
        workspaces = client.get("/workspaces").json()["workspaces"]
        assert [(w["id"], w["name"]) for w in workspaces] == [("ws-a", "alpha"), ("ws-b", "ws-b")]
        created = client.post("/computers", json={"workspace_id": "ws-a", "name": "web-1"})
        assert created.status_code == 201
        computer = wait_for_status(client, created.json()["id"], "running")
        client.post(f"/computers/{computer['id']}/restart")
        restarted = wait_for_status(client, computer["id"], "running")
    with simulator.client(key=None) as anonymous:
        assert anonymous.get("/workspaces").status_code == 401
    with simulator.client(key=SCOPED_SECRET_KEY) as scoped:
        refused = scoped.get(f"/computers/{computer['id']}")
        assert refused.status_code == 403
        assert refused.json()["code"] == "workspace_scope_mismatch"

    returncode, output = simulator.stop(signal.SIGTERM)
    assert returncode == 0
    assert "Stopping the Orgo simulator on SIGTERM" in output
    for secret in (SECRET_KEY, SCOPED_SECRET_KEY, computer["vnc_password"]):
        assert secret not in output
    assert restarted["vnc_password"] not in output


def test_without_keys_or_workspaces_it_uses_the_defaults_and_stops_on_sigint(tmp_path, launched):
    simulator = launch(tmp_path, [])
    launched.append(simulator)

    with simulator.client(key=DEFAULT_API_KEY) as client:
        workspaces = client.get("/workspaces").json()["workspaces"]
    assert [(w["id"], w["name"]) for w in workspaces] == [(DEFAULT_WORKSPACE_ID, "default")]

    returncode, output = simulator.stop(signal.SIGINT)
    assert returncode == 0
    assert f"accepting only the account-wide key {DEFAULT_API_KEY}" in output


def test_keys_come_from_the_environment_when_no_flag_gives_them(tmp_path, launched):
    env_key = "sk_live_from_environment_3"
    simulator = launch(
        tmp_path,
        [],
        env={"ORGO_SIMULATOR_API_KEYS": f"{env_key}, sk_live_other_4@{DEFAULT_WORKSPACE_ID}"},
    )
    launched.append(simulator)

    with simulator.client(key=env_key) as client:
        assert client.get("/workspaces").status_code == 200
    with simulator.client(key=DEFAULT_API_KEY) as client:
        assert client.get("/workspaces").status_code == 401

    returncode, output = simulator.stop(signal.SIGTERM)
    assert returncode == 0
    assert "Accepting 2 API key(s), 1 of them scoped to one workspace." in output
    assert env_key not in output and "sk_live_other_4" not in output


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Iterator[RunningSimulator]:
    simulator = launch(
        tmp_path_factory.mktemp("shared"), ["--boot-seconds", "0.05", "--seed", "11"]
    )
    yield simulator
    simulator.process.terminate()
    simulator.process.communicate(timeout=STOP_TIMEOUT_SECONDS)


@pytest.fixture
def control(shared: RunningSimulator) -> Iterator[SimulatorControl]:
    with SimulatorControl(shared.api_url) as control:
        control.reset()
        control.set_boot_seconds(seconds=0.05)
        control.set_keys(keys=[DEFAULT_API_KEY])
        yield control


@pytest.fixture
def api(shared: RunningSimulator) -> Iterator[httpx.Client]:
    with shared.client(key=DEFAULT_API_KEY) as client:
        yield client


def create(api: httpx.Client, name: str) -> httpx.Response:
    return api.post("/computers", json={"workspace_id": DEFAULT_WORKSPACE_ID, "name": name})


def test_control_sees_computers_and_the_request_log(control, api):
    created = create(api, "seen").json()
    assert control.computer_named("seen")["id"] == created["id"]
    assert control.computer_named("absent") is None
    log = control.requests()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("POST", "/api/computers", 201)
    ]
    control.clear_requests()
    assert control.requests() == []


def test_control_drives_outcomes_status_and_boot_time(control, api):
    rule = control.set_outcome(name="doomed", status="error", message="Quota exceeded.")
    assert rule == {"name": "doomed", "status": "error", "message": "Quota exceeded."}
    assert control.outcomes() == [rule]
    doomed = create(api, "doomed").json()
    failed = wait_for_status(api, doomed["id"], "error")
    assert failed["status_message"] == "Quota exceeded."
    assert control.clear_outcome(name="doomed") is True
    assert control.clear_outcome(name="doomed") is False

    odd_name = "Custom Desktop / 1"
    control.set_outcome(name=odd_name, status="error")
    assert [o["name"] for o in control.outcomes()] == [odd_name]
    assert control.clear_outcome(name=odd_name) is True

    forced = control.set_status(computer_id=doomed["id"], status="suspended")
    assert forced["status"] == "suspended"
    assert api.get(f"/computers/{doomed['id']}").json()["status"] == "suspended"

    control.set_boot_seconds(seconds=30)
    assert control.boot_seconds() == 30
    slow = create(api, "slow").json()
    time.sleep(0.1)
    assert api.get(f"/computers/{slow['id']}").json()["status"] == "starting"


def test_control_adds_workspaces_and_replaces_keys(control, api):
    workspace = control.add_workspace(name="team", workspace_id="ws-team")
    assert workspace["id"] == "ws-team"
    assert "ws-team" in [w["id"] for w in control.workspaces()]

    control.set_keys(keys=["sk_rotated_5@ws-team"])
    assert api.get("/workspaces").status_code == 401
    with httpx.Client(
        base_url=str(api.base_url), headers={"Authorization": "Bearer sk_rotated_5"}
    ) as rotated:
        assert [w["id"] for w in rotated.get("/workspaces").json()["workspaces"]] == ["ws-team"]

    with pytest.raises(SimulatorControlError) as caught:
        control.add_workspace(name="again", workspace_id="ws-team")
    assert caught.value.status == 409


def test_control_faults_reach_the_real_process(control, api):
    rule = control.add_fault(endpoint="create", drop_after_commit=True, times=1)
    assert (rule["kind"], rule["remaining"]) == ("drop_after_commit", 1)
    with pytest.raises(httpx.RemoteProtocolError):
        create(api, "ghost")
    assert control.computer_named("ghost") is not None
    assert control.requests()[0]["fault"] == "drop_after_commit"

    control.add_fault(endpoint="get", status=500, body=None, name="ghost")
    ghost = control.computer_named("ghost")
    refused = api.get(f"/computers/{ghost['id']}")
    assert (refused.status_code, refused.json()) == (500, None)

    listed = control.faults()
    assert [f["kind"] for f in listed] == ["drop_after_commit", "status"]
    control.remove_fault(rule_id=listed[1]["id"])
    assert api.get(f"/computers/{ghost['id']}").status_code == 200
    control.clear_faults()
    assert control.faults() == []

    with pytest.raises(SimulatorControlError, match="endpoint"):
        control.add_fault(endpoint="reboot", status=500)


def test_help_describes_the_api_and_the_control_endpoints():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for word in ("/api", "/_simulator", "--port-file", "--api-key", "ORGO_SIMULATOR_API_KEYS"):
        assert word in result.output


@pytest.mark.parametrize(
    "args",
    [["--api-key", "@ws"], ["--workspace", "=name"], ["--workspace", "a", "--workspace", "a"]],
)
def test_bad_options_stop_the_command_with_a_usage_error(args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
