"""A small synchronous client for the simulator's ``/_simulator`` control endpoints.

Usage in a test::

    with SimulatorControl("http://127.0.0.1:8787") as control:
        control.reset()
        control.add_fault(endpoint="create", status=503, times=1)
        ...
        assert control.requests()[0]["fault"] == "status"

``base_url`` is the simulator's root; a trailing ``/api`` is accepted and removed,
so the API base URL can be passed as is. Every method raises `SimulatorControlError`
when the simulator refuses the call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import quote

import httpx

DEFAULT_TIMEOUT_SECONDS: Final = 5.0
CONTROL_PREFIX: Final = "/_simulator"
API_SUFFIX: Final = "/api"

# Tells "no body given" apart from a fault body that is JSON null.
_UNSET: Final = object()


class SimulatorControlError(RuntimeError):
    """The simulator answered a control call with an error."""

    def __init__(self, *, method: str, path: str, status: int, message: str) -> None:
        super().__init__(f"{method} {path} answered {status}: {message}")
        self.status = status
        self.message = message


class SimulatorControl:
    def __init__(self, base_url: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        root = base_url.rstrip("/")
        if root.endswith(API_SUFFIX):
            root = root[: -len(API_SUFFIX)]
        self.base_url = root
        self._client = httpx.Client(base_url=f"{root}{CONTROL_PREFIX}", timeout=timeout)

    def __repr__(self) -> str:
        return f"<SimulatorControl {self.base_url}>"

    def __enter__(self) -> SimulatorControl:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    # Computers.

    def computers(self) -> list[dict[str, Any]]:
        return self._call("GET", "/computers")["computers"]

    def computer_named(self, name: str) -> dict[str, Any] | None:
        """The first live computer with this name in any workspace, if there is one."""
        return next((c for c in self.computers() if c["name"] == name), None)

    def set_status(
        self, *, computer_id: str, status: str, message: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"status": status}
        if message is not None:
            body["message"] = message
        return self._call("POST", f"/computers/{_segment(computer_id)}/status", json=body)

    # The request log, and forgetting.

    def requests(self) -> list[dict[str, Any]]:
        return self._call("GET", "/requests")["requests"]

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def reset(self) -> None:
        self._call("POST", "/reset")

    # Workspaces and keys.

    def workspaces(self) -> list[dict[str, Any]]:
        return self._call("GET", "/workspaces")["workspaces"]

    def add_workspace(self, *, name: str, workspace_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name}
        if workspace_id is not None:
            body["id"] = workspace_id
        return self._call("POST", "/workspaces", json=body)

    def set_keys(self, *, keys: Sequence[str]) -> None:
        self._call("PUT", "/keys", json={"keys": list(keys)})

    # Outcomes and boot time.

    def outcomes(self) -> list[dict[str, Any]]:
        return self._call("GET", "/outcomes")["outcomes"]

    def set_outcome(
        self, *, name: str, status: str, message: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"status": status}
        if message is not None:
            body["message"] = message
        return self._call("PUT", f"/outcomes/{_segment(name)}", json=body)

    def clear_outcome(self, *, name: str) -> bool:
        return self._call("DELETE", f"/outcomes/{_segment(name)}")["removed"]

    def boot_seconds(self) -> float:
        return self._call("GET", "/boot-seconds")["seconds"]

    def set_boot_seconds(self, *, seconds: float) -> None:
        self._call("PUT", "/boot-seconds", json={"seconds": seconds})

    # Faults.

    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "/faults")["faults"]

    def add_fault(
        self,
        *,
        endpoint: str,
        status: int | None = None,
        body: Any = _UNSET,
        retry_after: float | None = None,
        latency: float | None = None,
        hang: bool = False,
        drop_after_commit: bool = False,
        malformed: bool = False,
        non_json: bool = False,
        times: int | None = None,
        probability: float | None = None,
        seed: int | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        """Post one rule; only the options given are sent. Returns the stored rule."""
        options = {
            "status": status,
            "retry_after": retry_after,
            "latency": latency,
            "times": times,
            "probability": probability,
            "seed": seed,
            "name": name,
        }
        rule: dict[str, Any] = {"endpoint": endpoint}
        rule.update((field, value) for field, value in options.items() if value is not None)
        flags = {
            "hang": hang,
            "drop_after_commit": drop_after_commit,
            "malformed": malformed,
            "non_json": non_json,
        }
        rule.update((field, True) for field, value in flags.items() if value)
        if body is not _UNSET:
            rule["body"] = body
        return self._call("POST", "/faults", json=rule)

    def remove_fault(self, *, rule_id: int) -> None:
        self._call("DELETE", f"/faults/{rule_id}")

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def _call(self, method: str, path: str, *, json: Any = None) -> Any:
        response = self._client.request(method, path, json=json)
        if response.is_error:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise SimulatorControlError(
                method=method, path=path, status=response.status_code, message=message
            )
        return response.json()


def _segment(text: str) -> str:
    # Computer names may hold spaces or slashes; each must stay one path segment.
    return quote(text, safe="")
