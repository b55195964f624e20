"""The parts of Orgo's objects that the operator reads. Credentials are never kept."""
from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any


@dataclasses.dataclass(frozen=True)
class Computer:
    """
    A computer as Orgo reports it, without its connection secrets.

    The VNC password and connection details are dropped on parsing, so they cannot reach a
    status, an event or a log line by accident.
    """

    id: str
    name: str
    status: str
    url: str | None = None
    workspace_id: str | None = None
    created_at: datetime.datetime | None = None
    message: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Computer:
        return cls(
            id=str(data["id"]),
            name=str(data.get("name", "")),
            status=str(data.get("status") or "unknown"),
            url=_optional_str(data.get("url")),
            workspace_id=_optional_str(data.get("workspace_id")),
            created_at=_parse_time(data.get("created_at")),
            message=_optional_str(
                data.get("status_message") or data.get("error") or data.get("message")
            ),
        )


@dataclasses.dataclass(frozen=True)
class Workspace:
    """A workspace and the computers in it: the only place to find a computer by name."""

    id: str
    name: str
    computers: tuple[Computer, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Workspace:
        # The deprecated /projects alias lists the computers under "desktops".
        listed = data.get("computers", data.get("desktops")) or []
        return cls(
            id=str(data["id"]),
            name=str(data.get("name", "")),
            computers=tuple(Computer.from_json(item) for item in listed),
        )

    def find(self, name: str) -> Computer | None:
        return next((computer for computer in self.computers if computer.name == name), None)


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _parse_time(value: Any) -> datetime.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)
