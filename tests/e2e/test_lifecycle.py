"""
An OrgoComputer's life through kubectl, on the real control plane, with the operator as a
process and the simulator as Orgo: what a platform engineer would do and see.
"""
from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from tests.conftest import computer_manifest, eventually

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("operator")]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def in_workspace(orgo, workspace: str) -> list[dict]:
    return [c for c in orgo.computers() if c["workspace_id"] == workspace]


def requests_for(orgo, computer_id: str, method: str = "GET") -> list[dict]:
    return [r for r in orgo.requests()
            if r["method"] == method and r["path"] == f"/api/computers/{computer_id}"]


def test_apply_ends_ready_with_the_computer_in_status(cluster, orgo, workspace):
    name = unique("agent")
    cluster.apply(computer_manifest(name, workspace, ram=8, cpu=4, resolution="1920x1080x24"))

    obj = cluster.wait_ready(name)

    status = obj["status"]
    computers = in_workspace(orgo, workspace)
    assert len(computers) == 1, computers
    computer = computers[0]
    assert status["id"] == computer["id"]
    assert status["url"] == computer["url"]
    assert status["phase"] == "running"
    assert status["observedGeneration"] == obj["metadata"]["generation"]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    assert ready["reason"] == "Running"
    assert ready["message"]
    assert ready["observedGeneration"] == obj["metadata"]["generation"]
    assert ready["lastTransitionTime"]

    # One create, with the schema defaults sent and the unset optional fields left out.
    creates = [r for r in orgo.requests()
               if r["method"] == "POST" and r["path"] == "/api/computers"
               and (r["body"] or {}).get("workspace_id") == workspace]
    assert [r["body"] for r in creates] == [{
        "workspace_id": workspace, "name": name, "os": "linux", "ram": 8, "cpu": 4,
        "gpu": "none", "resolution": "1920x1080x24",
    }]


def test_printer_columns_read_at_a_glance(cluster, workspace):
    name = unique("columns")
    cluster.apply(computer_manifest(name, workspace))
    obj = cluster.wait_ready(name)

    table = cluster.kubectl("get", "orgocomputers", "-o", "wide").stdout
    header, *rows = table.splitlines()
    assert header.split() == ["NAME", "PHASE", "READY", "REASON", "ID", "URL", "AGE"]
    row = next(line.split() for line in rows if line.startswith(name))
    assert row[1:5] == ["running", "True", "Running", obj["status"]["id"]]


def test_computer_name_defaults_to_the_resource_name_and_can_be_set(cluster, orgo, workspace):
    named = unique("named")
    cluster.apply(computer_manifest(named, workspace, computerName="Custom Desktop 1"))
    obj = cluster.wait_ready(named)
    computer = next(c for c in in_workspace(orgo, workspace) if c["id"] == obj["status"]["id"])
    assert computer["name"] == "Custom Desktop 1"
    assert obj["status"]["computerName"] == "Custom Desktop 1"


def test_a_computer_in_error_is_reported_and_no_longer_polled(cluster, orgo, workspace):
    name = unique("broken")
    orgo.set_outcome(name=name, status="error", message="disk image could not be mounted")
    cluster.apply(computer_manifest(name, workspace))

    ready = eventually(lambda: (c := cluster.ready(name)) and c["reason"] == "ComputerError" and c,
                       what="Ready=False with reason ComputerError")
    assert ready["status"] == "False"
    assert "disk image could not be mounted" in ready["message"]
    obj = cluster.get(name)
    assert obj["status"]["phase"] == "error"
    reasons = {e["reason"] for e in cluster.events(name)}
    assert "ComputerFailed" in reasons

    # Observing has stopped: no GET for this computer arrives any more.
    computer_id = obj["status"]["id"]
    polls = len(requests_for(orgo, computer_id))
    time.sleep(3)
    assert len(requests_for(orgo, computer_id)) == polls


def test_delete_removes_the_computer(cluster, orgo, workspace):
    name = unique("gone")
    cluster.apply(computer_manifest(name, workspace))
    computer_id = cluster.wait_ready(name)["status"]["id"]

    cluster.kubectl("delete", "orgocomputer", name, "--timeout=30s")

    assert cluster.get(name) is None
    assert in_workspace(orgo, workspace) == []
    assert len(requests_for(orgo, computer_id, method="DELETE")) == 1
    # Events outlive their object: the deletion is on record.
    deleted = eventually(lambda: [e for e in cluster.events(name)
                                  if e["reason"] == "DeletedComputer"], what="the deleted event")
    assert computer_id in deleted[0]["message"]


def test_orphan_keeps_the_computer(cluster, orgo, workspace):
    name = unique("kept")
    cluster.apply(computer_manifest(name, workspace, deletionPolicy="Orphan"))
    computer_id = cluster.wait_ready(name)["status"]["id"]

    cluster.kubectl("delete", "orgocomputer", name, "--timeout=30s")

    assert cluster.get(name) is None
    assert [c["id"] for c in in_workspace(orgo, workspace)] == [computer_id]
    assert requests_for(orgo, computer_id, method="DELETE") == []
    reasons = {e["reason"] for e in cluster.events(name)}
    assert "OrphanedComputer" in reasons


def test_a_resource_whose_create_never_succeeded_is_released_at_once(cluster, orgo):
    name = unique("nowhere")
    cluster.apply(computer_manifest(name, "no-such-workspace"))
    eventually(lambda: (c := cluster.ready(name)) and c["reason"] == "WorkspaceNotFound",
               what="Ready=False with reason WorkspaceNotFound")

    cluster.kubectl("delete", "orgocomputer", name, "--timeout=15s")
    assert cluster.get(name) is None


def test_events_tell_the_story(cluster, workspace):
    name = unique("story")
    cluster.apply(computer_manifest(name, workspace))
    computer_id = cluster.wait_ready(name)["status"]["id"]

    events = eventually(lambda: (e := cluster.events(name)) and len(e) >= 2 and e,
                        what="the created and ready events")
    by_reason = {e["reason"]: e for e in events}
    assert by_reason["CreatedComputer"]["type"] == "Normal"
    assert computer_id in by_reason["CreatedComputer"]["message"]
    assert by_reason["ComputerReady"]["type"] == "Normal"


def test_bookkeeping_survives_schema_pruning(cluster, workspace):
    name = unique("pruned")
    cluster.apply(computer_manifest(name, workspace))
    cluster.wait_ready(name)

    # A spec change goes through kopf's diff-base; it must still be stored after pruning.
    cluster.kubectl("patch", "orgocomputer", name, "--type=merge",
                    "-p", json.dumps({"spec": {"deletionPolicy": "Orphan"}}))
    obj = eventually(lambda: (o := cluster.get(name)) and
                     o["status"].get("observedGeneration") == o["metadata"]["generation"] and o,
                     what="the new generation to be observed")

    annotations = obj["metadata"]["annotations"]
    stored = json.loads(annotations["orgo.ai/last-handled-configuration"])
    assert stored["spec"]["deletionPolicy"] == "Orphan"
    # Everything the operator keeps in the status is in the schema; nothing of kopf's is there.
    assert set(obj["status"]) <= {"id", "url", "phase", "computerName", "workspaceId",
                                  "observedGeneration", "conditions"}
    assert obj["metadata"]["finalizers"] == ["orgo.ai/delete-computer"]
    # The spec change did not create a second computer.
    assert obj["status"]["phase"] == "running"


@pytest.mark.parametrize(("field", "value"), [("ram", 16), ("gpu", "a10"), ("image", "x:1"),
                                              ("autoStopMinutes", 5)])
def test_the_computer_settings_are_fixed_once_it_exists(cluster, workspace, field, value):
    name = unique("fixed")
    cluster.apply(computer_manifest(name, workspace))
    cluster.wait_ready(name)

    result = cluster.kubectl("patch", "orgocomputer", name, "--type=merge",
                             "-p", json.dumps({"spec": {field: value}}), check=False)
    assert result.returncode != 0
    assert f"spec.{field}" in result.stderr
    assert "cannot change once the computer exists" in result.stderr


def test_the_api_key_appears_nowhere(cluster, workspace, simulator, operator):
    name = unique("secret")
    cluster.apply(computer_manifest(name, workspace))
    cluster.wait_ready(name)
    everything = "\n".join([
        cluster.kubectl("get", "orgocomputer", name, "-o", "yaml").stdout,
        cluster.kubectl("get", "events", "-o", "yaml").stdout,
        operator.log_text(),
    ])
    assert simulator.api_key not in everything
    assert "vnc_password" not in everything


def test_explain_documents_the_fields(control_plane):
    text = eventually(lambda: (r := control_plane.kubectl("explain", "orgocomputer.spec",
                                                          check=False)).returncode == 0
                      and r.stdout, what="the CRD's OpenAPI to be published")
    for field in ("workspaceId", "computerName", "os", "ram", "cpu", "gpu", "image",
                  "resolution", "diskSizeGb", "autoStopMinutes", "deletionPolicy"):
        assert field in text
    status = control_plane.kubectl("explain", "orgocomputer.status.conditions").stdout
    assert "lastTransitionTime" in status


def test_a_name_taken_by_another_computer_is_a_conflict_left_alone(
        cluster, orgo, workspace, simulator):
    name = unique("taken")
    theirs = httpx.post(f"{simulator.api_url}/computers",
                        headers={"Authorization": f"Bearer {simulator.api_key}"},
                        json={"workspace_id": workspace, "name": name})
    theirs.raise_for_status()
    cluster.apply(computer_manifest(name, workspace))

    ready = eventually(lambda: (c := cluster.ready(name)) and c["reason"] == "NameConflict" and c,
                       what="Ready=False with reason NameConflict")
    assert ready["status"] == "False"
    assert workspace in ready["message"] and repr(name) in ready["message"]
    assert "id" not in cluster.get(name).get("status", {})

    cluster.kubectl("delete", "orgocomputer", name, "--timeout=30s")
    assert [c["id"] for c in in_workspace(orgo, workspace)] == [theirs.json()["id"]]
    assert not [r for r in orgo.requests() if r["method"] == "DELETE"
                and r["path"] == f"/api/computers/{theirs.json()['id']}"]
