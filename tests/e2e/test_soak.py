"""
Proof at scale: 200 resources created and deleted while the simulator injects faults into
about a fifth of all requests and the operator is restarted twice, once by SIGKILL. At the
end Orgo's inventory must equal the live resources, with no duplicate and no leak.

Bounded: every wait has a deadline, and the whole run takes a few minutes at most.
"""
from __future__ import annotations

import collections
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import eventually, namespaced
from tests.envtest.stack import Operator, Simulator

pytestmark = pytest.mark.e2e

RESOURCES = 200
NAMESPACES = "s-*"
CONVERGE_TIMEOUT = 240.0
SEED = 20261203

# Each rule rolls on its own, in order, for every request; together about 20% are hit.
FAULTS = [
    {"endpoint": "any", "status": 503, "probability": 0.07},
    {"endpoint": "any", "status": 429, "retry_after": 1, "probability": 0.03},
    {"endpoint": "any", "drop_after_commit": True, "probability": 0.03},
    {"endpoint": "any", "malformed": True, "probability": 0.02},
    {"endpoint": "any", "non_json": True, "probability": 0.02},
    {"endpoint": "any", "hang": True, "probability": 0.02},
    {"endpoint": "any", "latency": 0.3, "probability": 0.02},
]
PACES = {
    "ORGO_REQUEST_TIMEOUT": "2",
    "ORGO_BACKOFF_MAX": "4",
    "ORGO_POLL_MAX": "2",
    "ORGO_RESYNC_INTERVAL": "30",
}


def manifest_list(names: list[str], workspace: str) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "orgo.ai/v1alpha1", "kind": "OrgoComputer", "metadata": {"name": name},
         "spec": {"workspaceId": workspace}} for name in names]})


def listed(cluster) -> list[dict[str, Any]]:
    return json.loads(cluster.kubectl("get", "orgocomputers", "-o", "json").stdout)["items"]


def all_ready(cluster) -> list[dict[str, Any]] | None:
    items = listed(cluster)
    ready = [item for item in items if any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in item.get("status", {}).get("conditions", []))]
    return items if len(ready) == RESOURCES == len(items) else None


def test_200_resources_through_faults_and_restarts(workdir: Path, control_plane, capsys):
    with Simulator.started(workdir / "soak", extra_args=("--seed", str(SEED))) as simulator, \
            Operator.started(workdir / "soak", control_plane, simulator,
                             args=("--namespace", NAMESPACES, "--standalone"),
                             env=PACES) as operator, \
            simulator.control() as orgo, \
            namespaced(control_plane, NAMESPACES.rstrip("-*")) as cluster:
        workspace = orgo.add_workspace(name=f"soak-{uuid.uuid4().hex[:6]}")["id"]
        for rule in FAULTS:
            orgo.add_fault(**rule)
        names = [f"soak-{index:03d}" for index in range(RESOURCES)]

        # Create all at once; while they converge, the operator dies without warning.
        started = time.monotonic()
        cluster.kubectl("apply", "-f", "-", input=manifest_list(names, workspace))
        time.sleep(3)
        operator.kill()
        operator.start()
        items = eventually(lambda: all_ready(cluster), timeout=CONVERGE_TIMEOUT, interval=1.0,
                           what=f"all {RESOURCES} resources to be Ready")
        created_in = time.monotonic() - started

        computers = [c for c in orgo.computers() if c["workspace_id"] == workspace]
        live_ids = {item["status"]["id"] for item in items}
        duplicates = sum(count - 1 for count in
                         collections.Counter(c["name"] for c in computers).values())
        assert duplicates == 0
        assert {c["id"] for c in computers} == live_ids
        assert len(computers) == RESOURCES

        # Delete all; the operator is stopped and started again halfway.
        deleting = time.monotonic()
        cluster.kubectl("delete", "orgocomputers", "--all", "--wait=false")
        time.sleep(2)
        operator.stop()
        operator.start()
        eventually(lambda: not listed(cluster), timeout=CONVERGE_TIMEOUT, interval=1.0,
                   what="every resource to be released")
        deleted_in = time.monotonic() - deleting
        leaks = [c for c in orgo.computers() if c["workspace_id"] == workspace]
        assert leaks == []

        requests = orgo.requests()
        hit = collections.Counter(r["fault"] for r in requests if r.get("fault"))
        assert operator.running()

    with capsys.disabled():
        print(f"\nsoak: {RESOURCES} resources, {len(requests)} Orgo requests, "
              f"{sum(hit.values())} faulted ({100 * sum(hit.values()) / len(requests):.1f}%: "
              + ", ".join(f"{kind} {count}" for kind, count in sorted(hit.items())) + ")")
        print(f"soak: all Ready {created_in:.1f}s after the apply (one SIGKILL restart); "
              f"all released {deleted_in:.1f}s after the delete "
              f"(one SIGTERM restart)")
        print(f"soak: inventory = live resources ({len(live_ids)}), duplicates {duplicates}, "
              f"leaks {len(leaks)}")
