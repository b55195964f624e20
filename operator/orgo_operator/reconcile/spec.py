"""
From an OrgoComputer's spec to the body of Orgo's create call.

The API server already enforces the CRD's schema; the same rules are checked here so that a
resource stored before the schema was tightened, or a CRD installed without defaults, still
gets a clear message instead of a request Orgo would refuse.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

OS_VALUES = ("linux",)
RAM_VALUES = (4, 8, 16, 32, 64)
CPU_VALUES = (1, 2, 4, 8, 16)
GPU_VALUES = ("none", "a10", "l40s", "a100-40gb", "a100-80gb")
DELETION_POLICIES = ("Delete", "Orphan")
NAME_MAX_LENGTH = 64
RESOLUTION_PATTERN = re.compile(r"^[1-9][0-9]*x[1-9][0-9]*x[1-9][0-9]*$")

DEFAULT_OS = "linux"
DEFAULT_RAM = 4
DEFAULT_CPU = 2
DEFAULT_GPU = "none"
DEFAULT_DELETION_POLICY = "Delete"


class InvalidSpec(ValueError):
    """The spec cannot become a create request; the message names the field."""


@dataclasses.dataclass(frozen=True)
class ComputerSpec:
    workspace_id: str
    name: str
    os: str = DEFAULT_OS
    ram: int = DEFAULT_RAM
    cpu: int = DEFAULT_CPU
    gpu: str = DEFAULT_GPU
    image: str | None = None
    resolution: str | None = None
    disk_size_gb: int | None = None
    auto_stop_minutes: int | None = None
    deletion_policy: str = DEFAULT_DELETION_POLICY

    @classmethod
    def from_resource(cls, spec: Mapping[str, Any], *, resource_name: str) -> ComputerSpec:
        """Read and check a resource's spec; the computer's name defaults to the resource's."""
        workspace_id = spec.get("workspaceId")
        if not isinstance(workspace_id, str) or not workspace_id:
            raise InvalidSpec("spec.workspaceId is required: the id of an Orgo workspace.")

        name = spec.get("computerName", resource_name)
        if not isinstance(name, str) or not 1 <= len(name) <= NAME_MAX_LENGTH:
            field = "spec.computerName" if "computerName" in spec else "metadata.name"
            raise InvalidSpec(
                f"{field} must be 1 to {NAME_MAX_LENGTH} characters to be used as the computer's "
                f"name in Orgo, not {len(name) if isinstance(name, str) else name!r}; "
                "set spec.computerName."
            )

        resolution = _optional(spec, "resolution", str)
        if resolution is not None and not RESOLUTION_PATTERN.match(resolution):
            raise InvalidSpec(
                f"spec.resolution must be WIDTHxHEIGHTxDEPTH, e.g. 1920x1080x24, "
                f"not {resolution!r}."
            )
        disk_size_gb = _optional(spec, "diskSizeGb", int)
        if disk_size_gb is not None and disk_size_gb < 1:
            raise InvalidSpec(f"spec.diskSizeGb must be 1 or more, not {disk_size_gb}.")
        auto_stop_minutes = _optional(spec, "autoStopMinutes", int)
        if auto_stop_minutes is not None and auto_stop_minutes < 0:
            raise InvalidSpec(f"spec.autoStopMinutes must be 0 or more, not {auto_stop_minutes}.")

        return cls(
            workspace_id=workspace_id,
            name=name,
            os=_choice(spec, "os", OS_VALUES, DEFAULT_OS),
            ram=_choice(spec, "ram", RAM_VALUES, DEFAULT_RAM),
            cpu=_choice(spec, "cpu", CPU_VALUES, DEFAULT_CPU),
            gpu=_choice(spec, "gpu", GPU_VALUES, DEFAULT_GPU),
            image=_optional(spec, "image", str),
            resolution=resolution,
            disk_size_gb=disk_size_gb,
            auto_stop_minutes=auto_stop_minutes,
            deletion_policy=_choice(
                spec, "deletionPolicy", DELETION_POLICIES, DEFAULT_DELETION_POLICY),
        )

    def create_body(self) -> dict[str, Any]:
        """The JSON body of POST /computers: the always-sent fields, then those that are set."""
        body: dict[str, Any] = {
            "workspace_id": self.workspace_id,
            "name": self.name,
            "os": self.os,
            "ram": self.ram,
            "cpu": self.cpu,
            "gpu": self.gpu,
        }
        optional = {
            "image": self.image,
            "resolution": self.resolution,
            "disk_size_gb": self.disk_size_gb,
            "auto_stop_minutes": self.auto_stop_minutes,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        return body


def _choice(spec: Mapping[str, Any], field: str, allowed: tuple[Any, ...], default: Any) -> Any:
    value = spec.get(field, default)
    # bool is an int in Python; `ram: true` must not pass as 1.
    if isinstance(value, bool) or value not in allowed:
        listed = ", ".join(str(item) for item in allowed)
        raise InvalidSpec(f"spec.{field} must be one of {listed}, not {value!r}.")
    return value


def _optional(spec: Mapping[str, Any], field: str, kind: type) -> Any:
    value = spec.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, kind):
        raise InvalidSpec(f"spec.{field} must be a{'n integer' if kind is int else ' string'}, "
                          f"not {value!r}.")
    return value
