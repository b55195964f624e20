"""The mapping from an OrgoComputer's spec to the body of POST /computers."""
from __future__ import annotations

import pytest

from orgo_operator.reconcile.spec import ComputerSpec, InvalidSpec

WORKSPACE = "550e8400-e29b-41d4-a716-446655440000"


def body(spec: dict, *, name: str = "agent-1") -> dict:
    return ComputerSpec.from_resource(spec, resource_name=name).create_body()


def test_the_minimal_spec_sends_the_defaults_and_nothing_else():
    assert body({"workspaceId": WORKSPACE}) == {
        "workspace_id": WORKSPACE, "name": "agent-1", "os": "linux", "ram": 4, "cpu": 2,
        "gpu": "none",
    }


def test_every_field_maps_to_its_snake_case_name():
    spec = {
        "workspaceId": WORKSPACE, "computerName": "desk", "os": "linux", "ram": 64, "cpu": 16,
        "gpu": "a100-80gb", "image": "registry.example/desk:1", "resolution": "1920x1080x24",
        "diskSizeGb": 40, "autoStopMinutes": 0, "deletionPolicy": "Orphan",
    }
    assert body(spec) == {
        "workspace_id": WORKSPACE, "name": "desk", "os": "linux", "ram": 64, "cpu": 16,
        "gpu": "a100-80gb", "image": "registry.example/desk:1", "resolution": "1920x1080x24",
        "disk_size_gb": 40, "auto_stop_minutes": 0,
    }


def test_deletion_policy_is_the_operators_own_and_never_sent():
    parsed = ComputerSpec.from_resource({"workspaceId": WORKSPACE, "deletionPolicy": "Orphan"},
                                        resource_name="a")
    assert parsed.deletion_policy == "Orphan"
    assert "deletionPolicy" not in parsed.create_body()
    assert "deletion_policy" not in parsed.create_body()


def test_auto_stop_zero_is_sent_because_it_means_always_on():
    assert body({"workspaceId": WORKSPACE, "autoStopMinutes": 0})["auto_stop_minutes"] == 0


def test_the_name_defaults_to_the_resource_name():
    assert body({"workspaceId": WORKSPACE}, name="team-a-desk")["name"] == "team-a-desk"


@pytest.mark.parametrize(("spec", "field", "allowed"), [
    ({"ram": 12}, "spec.ram", "4, 8, 16, 32, 64"),
    ({"cpu": 3}, "spec.cpu", "1, 2, 4, 8, 16"),
    ({"gpu": "h100"}, "spec.gpu", "none, a10, l40s, a100-40gb, a100-80gb"),
    ({"os": "windows"}, "spec.os", "linux"),
    ({"deletionPolicy": "Keep"}, "spec.deletionPolicy", "Delete, Orphan"),
    ({"ram": True}, "spec.ram", "4, 8, 16, 32, 64"),
])
def test_a_bad_choice_names_the_field_and_the_allowed_values(spec, field, allowed):
    with pytest.raises(InvalidSpec) as caught:
        body({"workspaceId": WORKSPACE, **spec})
    assert field in str(caught.value)
    assert allowed in str(caught.value)


@pytest.mark.parametrize(("spec", "field"), [
    ({}, "spec.workspaceId"),
    ({"workspaceId": ""}, "spec.workspaceId"),
    ({"workspaceId": WORKSPACE, "computerName": ""}, "spec.computerName"),
    ({"workspaceId": WORKSPACE, "computerName": "x" * 65}, "spec.computerName"),
    ({"workspaceId": WORKSPACE, "resolution": "1920x1080"}, "spec.resolution"),
    ({"workspaceId": WORKSPACE, "diskSizeGb": 0}, "spec.diskSizeGb"),
    ({"workspaceId": WORKSPACE, "autoStopMinutes": -1}, "spec.autoStopMinutes"),
    ({"workspaceId": WORKSPACE, "diskSizeGb": "10"}, "spec.diskSizeGb"),
])
def test_a_bad_value_names_the_field(spec, field):
    with pytest.raises(InvalidSpec) as caught:
        body(spec)
    assert field in str(caught.value)


def test_a_long_resource_name_without_a_computer_name_is_refused():
    with pytest.raises(InvalidSpec) as caught:
        body({"workspaceId": WORKSPACE}, name="a" * 65)
    assert "metadata.name" in str(caught.value)
    assert "spec.computerName" in str(caught.value)


def test_64_characters_is_the_longest_name_accepted():
    assert body({"workspaceId": WORKSPACE}, name="a" * 64)["name"] == "a" * 64
