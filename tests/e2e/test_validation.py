"""Manifests the API server itself must refuse, with a message naming the field."""
from __future__ import annotations

import json

import pytest

from tests.conftest import computer_manifest

pytestmark = pytest.mark.e2e

WORKSPACE = "550e8400-e29b-41d4-a716-446655440000"


@pytest.fixture(scope="module")
def namespace_prefix() -> str:
    # Namespaces no operator watches: what is checked here is the API server alone.
    return "v"


def refused(cluster, manifest: str) -> str:
    result = cluster.apply(manifest, check=False)
    assert result.returncode != 0, f"accepted: {result.stdout}"
    return result.stderr


@pytest.mark.parametrize(("field", "value", "allowed"), [
    ("ram", 12, ['4', '8', '16', '32', '64']),
    ("cpu", 3, ['1', '2', '4', '8', '16']),
    ("gpu", "h100", ['"none"', '"a10"', '"l40s"', '"a100-40gb"', '"a100-80gb"']),
    ("os", "windows", ['"linux"']),
    ("deletionPolicy", "Keep", ['"Delete"', '"Orphan"']),
])
def test_a_bad_enum_names_the_field_and_the_allowed_values(cluster, field, value, allowed):
    message = refused(cluster, computer_manifest("bad-enum", WORKSPACE, **{field: value}))
    assert f"spec.{field}" in message
    assert "Unsupported value" in message
    for item in allowed:
        assert item in message


def test_a_missing_workspace_id_is_refused(cluster):
    manifest = json.dumps({"apiVersion": "orgo.ai/v1alpha1", "kind": "OrgoComputer",
                           "metadata": {"name": "no-workspace"}, "spec": {"ram": 4}})
    message = refused(cluster, manifest)
    assert "spec.workspaceId" in message
    assert "Required value" in message


def test_an_empty_workspace_id_is_refused(cluster):
    message = refused(cluster, computer_manifest("empty-workspace", ""))
    assert "spec.workspaceId" in message


def test_a_computer_name_over_64_characters_is_refused(cluster):
    message = refused(cluster, computer_manifest("long-name", WORKSPACE, computerName="x" * 65))
    assert "spec.computerName" in message
    assert "64" in message


def test_a_long_resource_name_needs_a_computer_name(cluster):
    long_name = "a" * 70
    message = refused(cluster, computer_manifest(long_name, WORKSPACE))
    assert "spec.computerName" in message
    assert "64 characters" in message
    # With a computerName of its own, the same long resource name is fine.
    cluster.apply(computer_manifest(long_name, WORKSPACE, computerName="short",
                                    deletionPolicy="Orphan"))
    cluster.kubectl("delete", "orgocomputer", long_name, "--wait=false")


def test_a_resolution_must_be_width_x_height_x_depth(cluster):
    message = refused(cluster, computer_manifest("bad-res", WORKSPACE, resolution="1920x1080"))
    assert "spec.resolution" in message


def test_wrong_types_are_refused(cluster):
    message = refused(cluster, computer_manifest("bad-type", WORKSPACE, ram="lots"))
    assert "spec.ram" in message


def test_the_schema_defaults_are_stored(cluster):
    cluster.apply(computer_manifest("defaults", "ws-for-defaults", deletionPolicy="Orphan"))
    spec = cluster.get("defaults")["spec"]
    assert {key: spec[key] for key in ("os", "ram", "cpu", "gpu", "deletionPolicy")} == {
        "os": "linux", "ram": 4, "cpu": 2, "gpu": "none", "deletionPolicy": "Orphan"}
    cluster.kubectl("delete", "orgocomputer", "defaults", "--wait=false")


def test_unknown_fields_are_refused_in_strict_validation(cluster):
    result = cluster.kubectl("apply", "--validate=strict", "-f", "-", check=False,
                             input=computer_manifest("unknown", WORKSPACE, memory=8))
    assert result.returncode != 0
    assert 'unknown field "spec.memory"' in result.stderr


@pytest.mark.parametrize(("field", "first", "second"), [
    ("workspaceId", WORKSPACE, "another-workspace"),
    ("computerName", "desk-a", "desk-b"),
])
def test_the_computer_identity_is_immutable(cluster, field, first, second):
    name = f"immutable-{field.lower()}"
    spec = {"deletionPolicy": "Orphan"}
    if field == "computerName":
        spec["computerName"] = first
    workspace = first if field == "workspaceId" else WORKSPACE
    cluster.apply(computer_manifest(name, workspace, **spec))

    changed = {**spec, field: second} if field == "computerName" else spec
    message = refused(cluster, computer_manifest(
        name, second if field == "workspaceId" else WORKSPACE, **changed))
    assert f"spec.{field}" in message
    assert "immutable" in message
    cluster.kubectl("delete", "orgocomputer", name, "--wait=false")


def test_a_computer_name_cannot_be_added_later(cluster):
    cluster.apply(computer_manifest("added-later", WORKSPACE, deletionPolicy="Orphan"))
    message = refused(cluster, computer_manifest("added-later", WORKSPACE,
                                                 deletionPolicy="Orphan", computerName="x"))
    assert "spec.computerName" in message and "immutable" in message
    cluster.kubectl("delete", "orgocomputer", "added-later", "--wait=false")


def test_other_fields_may_change(cluster):
    cluster.apply(computer_manifest("mutable", WORKSPACE, deletionPolicy="Orphan"))
    cluster.apply(computer_manifest("mutable", WORKSPACE, deletionPolicy="Orphan",
                                    autoStopMinutes=10))
    assert cluster.get("mutable")["spec"]["autoStopMinutes"] == 10
    cluster.kubectl("delete", "orgocomputer", "mutable", "--wait=false")
