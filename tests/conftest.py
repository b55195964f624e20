"""
Fixtures for the end-to-end tests: one real control plane, one simulator and one operator
process for the whole session; a fresh namespace and a fresh Orgo workspace for each test, so
tests never see each other's resources or computers.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

REPO = Path(__file__).resolve().parent.parent
CRDS = REPO / "crds"

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], *, timeout: float = 30.0,
               interval: float = 0.1, what: str = "the condition") -> T:
    """Poll until the probe returns something truthy; fail with `what` after the timeout."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}; last seen: {last!r}")


class Cluster:
    """kubectl against the test control plane, scoped to one namespace."""

    def __init__(self, plane: Any, namespace: str) -> None:
        self.plane = plane
        self.namespace = namespace

    def kubectl(self, *args: str, input: str | None = None,
                check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.plane.kubectl("--namespace", self.namespace, *args, input=input,
                                  check=check)

    def apply(self, manifest: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.kubectl("apply", "-f", "-", input=manifest, check=check)

    def get(self, name: str) -> dict[str, Any] | None:
        result = self.kubectl("get", "orgocomputer", name, "-o", "json", check=False)
        return json.loads(result.stdout) if result.returncode == 0 else None

    def ready(self, name: str) -> dict[str, Any] | None:
        """The Ready condition once it has a status of True or False, else None."""
        obj = self.get(name)
        for condition in (obj or {}).get("status", {}).get("conditions", []):
            if condition["type"] == "Ready":
                return condition
        return None

    def wait_ready(self, name: str, *, timeout: float = 30.0) -> dict[str, Any]:
        self.kubectl("wait", "--for=condition=Ready", f"orgocomputer/{name}",
                     f"--timeout={timeout:.0f}s")
        obj = self.get(name)
        assert obj is not None
        return obj

    def events(self, name: str) -> list[dict[str, Any]]:
        result = self.kubectl("get", "events", "-o", "json",
                              "--field-selector", f"involvedObject.name={name}")
        return json.loads(result.stdout)["items"]


def computer_manifest(name: str, workspace_id: str, **spec: Any) -> str:
    body = {
        "apiVersion": "orgo.ai/v1alpha1",
        "kind": "OrgoComputer",
        "metadata": {"name": name},
        "spec": {"workspaceId": workspace_id, **spec},
    }
    return json.dumps(body)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def control_plane(workdir: Path) -> Iterator[Any]:
    from tests.envtest.controlplane import ControlPlane

    with ControlPlane.started(workdir / "cluster") as plane:
        plane.kubectl("apply", "--server-side", "-f", str(CRDS))
        plane.wait_established("crd/orgocomputers.orgo.ai")
        yield plane


@pytest.fixture(scope="session")
def simulator(workdir: Path) -> Iterator[Any]:
    from tests.envtest.stack import Simulator

    with Simulator.started(workdir / "simulator") as sim:
        yield sim


# Each operator the tests run watches its own namespaces, so that one that is killed or
# misconfigured on purpose never meets another's resources.
SESSION_NAMESPACES = "t-*"


@pytest.fixture(scope="session")
def operator(workdir: Path, control_plane: Any, simulator: Any) -> Iterator[Any]:
    from tests.envtest.stack import Operator

    with Operator.started(workdir / "operator", control_plane, simulator,
                          args=("--namespace", SESSION_NAMESPACES, "--standalone",
                                "--verbose")) as process:
        yield process
        assert process.running(), f"The operator died during the tests; see {process.log_path}"


@pytest.fixture
def orgo(simulator: Any) -> Iterator[Any]:
    control = simulator.control()
    yield control
    control.clear_faults()
    control.close()


@pytest.fixture
def workspace(orgo: Any) -> str:
    """A workspace of this test's own in the simulator."""
    return orgo.add_workspace(name=f"test-{uuid.uuid4().hex[:8]}")["id"]


@contextlib.contextmanager
def namespaced(control_plane: Any, prefix: str) -> Iterator[Cluster]:
    """A fresh namespace named PREFIX-<random>, deleted (without waiting) afterwards."""
    namespace = f"{prefix}-{uuid.uuid4().hex[:10]}"
    control_plane.kubectl("create", "namespace", namespace)
    yield Cluster(control_plane, namespace)
    control_plane.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture(scope="module")
def namespace_prefix() -> str:
    """Which operator's namespaces a test's resources go to; a module with its own overrides."""
    return SESSION_NAMESPACES.rstrip("-*")


@pytest.fixture
def cluster(control_plane: Any, namespace_prefix: str) -> Iterator[Cluster]:
    with namespaced(control_plane, namespace_prefix) as scoped:
        yield scoped


class Stack:
    """A simulator and an operator of a test module's own, to break without harm to others."""

    def __init__(self, simulator: Any, operator: Any) -> None:
        self.simulator = simulator
        self.operator = operator
        self.orgo = simulator.control()

    def tidy(self) -> None:
        """Undo what a test may have done to this stack: faults, keys, boot time, a kill."""
        self.orgo.clear_faults()
        self.orgo.set_keys(keys=[self.simulator.api_key])
        self.orgo.set_boot_seconds(seconds=self.simulator.boot_seconds)
        if not self.operator.running():
            self.operator.start()


@contextlib.contextmanager
def own_stack(workdir: Path, control_plane: Any, *, name: str, namespace_prefix: str,
              env: dict[str, str] | None = None,
              simulator_args: tuple[str, ...] = ()) -> Iterator[Stack]:
    from tests.envtest.stack import Operator, Simulator

    with Simulator.started(workdir / name, extra_args=simulator_args) as simulator, \
            Operator.started(workdir / name, control_plane, simulator,
                             args=("--namespace", f"{namespace_prefix}-*", "--standalone",
                                   "--verbose"),
                             env=env) as operator:
        stack = Stack(simulator, operator)
        yield stack
        stack.orgo.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The unit tests run first: they are quick and tell the most when something is broken.
    items.sort(key=lambda item: "e2e" in item.keywords)
    if os.environ.get("ORGO_SKIP_E2E"):
        skip = pytest.mark.skip(reason="ORGO_SKIP_E2E is set")
        for item in items:
            if "e2e" in item.keywords:
                item.add_marker(skip)
