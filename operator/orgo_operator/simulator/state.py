"""The simulated Orgo account in memory: workspaces, keys, computers, rules, request log.

Pure logic, no HTTP: every method takes plain values and either returns model
objects or raises an `ApiError` subclass whose ``status`` is the status the API
answers with. Time comes from the injected ``clock`` (epoch seconds), so tests of
the lifecycle need no sleeps.

A computer's status is computed when it is read, never by a background task:

- create: ``starting``, then ``running`` once its boot seconds have passed;
- stop: ``stopping``, then ``stopped`` after the same number of seconds;
- start: ``starting``, then ``running``; restart: ``restarting``, then ``running``,
  and the ``vnc_password`` changes at once;
- an outcome rule for the computer's name replaces ``running`` at the end of
  each boot (create, start, restart) with the rule's status, and its message
  shows in the computer object as ``status_message``. The rule in force when
  the finished boot is first observed decides, so a rule also reaches
  computers that are still booting when it is set; a computer already running
  is left alone until its next boot;
- with ``auto_stop_minutes`` above 0, a computer that has been ``running`` that
  long becomes ``stopped``, as an idle Orgo computer does.

Actions are idempotent: start leaves a running, starting or restarting computer
as it is, stop a stopped or stopping one, restart one already restarting (the
password rotates once). ``status_message`` is present in the object only while a
message applies. The boot time is fixed per computer when it is created.
"""

from __future__ import annotations

import dataclasses
import hmac
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Final

from orgo_operator.simulator.faults import FaultBook

Clock = Callable[[], float]

DEFAULT_API_KEY: Final = "sk_test_simulator"
DEFAULT_WORKSPACE_ID: Final = "550e8400-e29b-41d4-a716-446655440000"
DEFAULT_WORKSPACE_NAME: Final = "default"
DEFAULT_BOOT_SECONDS: Final = 0.5

OS_CHOICES: Final = ("linux",)
RAM_CHOICES_GB: Final = (4, 8, 16, 32, 64)
CPU_CHOICES: Final = (1, 2, 4, 8, 16)
GPU_CHOICES: Final = ("none", "a10", "l40s", "a100-40gb", "a100-80gb")
DEFAULT_OS: Final = "linux"
DEFAULT_RAM_GB: Final = 4
DEFAULT_CPU: Final = 2
DEFAULT_GPU: Final = "none"
DEFAULT_RESOLUTION: Final = "1280x720x24"
DEFAULT_DISK_SIZE_GB: Final = 8
NAME_MAX_LENGTH: Final = 64
RESOLUTION_PATTERN: Final = re.compile(r"^[1-9][0-9]*x[1-9][0-9]*x[1-9][0-9]*$")

STATUS_STARTING: Final = "starting"
STATUS_RUNNING: Final = "running"
STATUS_STOPPING: Final = "stopping"
STATUS_STOPPED: Final = "stopped"
STATUS_RESTARTING: Final = "restarting"

CODE_WORKSPACE_SCOPE_MISMATCH: Final = "workspace_scope_mismatch"

# Scoped keys are written KEY@WORKSPACE_ID wherever keys are configured.
KEY_SCOPE_SEPARATOR: Final = "@"
BEARER_PREFIX: Final = "Bearer "

RESIZE_FIELDS: Final = ("vcpus", "mem_gb", "disk_size_gb", "bandwidth_limit_mbps")

_TRANSITION_BOOT: Final = "boot"
_TRANSITION_STOP: Final = "stop"
_SECONDS_PER_MINUTE: Final = 60


class ApiError(Exception):
    """An answer other than success; ``extra`` fields join the error body."""

    status: ClassVar[int] = 500

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


@dataclasses.dataclass(frozen=True)
class Workspace:
    id: str
    name: str
    created_at: float


@dataclasses.dataclass(frozen=True, repr=False)
class ApiKey:
    """An accepted key; ``workspace_id`` is set for a key scoped to one workspace."""

    secret: str
    workspace_id: str | None = None

    def __repr__(self) -> str:
        scope = "account-wide" if self.workspace_id is None else f"scoped to {self.workspace_id}"
        return f"<ApiKey {scope}>"

    @classmethod
    def parse(cls, text: str) -> ApiKey:
        """Read ``KEY`` or ``KEY@WORKSPACE_ID``."""
        secret, separator, workspace_id = text.strip().rpartition(KEY_SCOPE_SEPARATOR)
        if not separator:
            secret, workspace_id = workspace_id, ""
        if not secret or (separator and not workspace_id):
            raise ValueError("An API key must be KEY or KEY@WORKSPACE_ID, with neither part empty.")
        return cls(secret=secret, workspace_id=workspace_id or None)


@dataclasses.dataclass(frozen=True)
class ComputerSpec:
    """A validated create request, defaults filled in."""

    workspace_id: str
    name: str
    os: str = DEFAULT_OS
    ram: int = DEFAULT_RAM_GB
    cpu: int = DEFAULT_CPU
    gpu: str = DEFAULT_GPU
    image: str | None = None
    resolution: str = DEFAULT_RESOLUTION
    disk_size_gb: int = DEFAULT_DISK_SIZE_GB
    auto_stop_minutes: int | None = None


@dataclasses.dataclass(frozen=True)
class Transition:
    """A status change under way: boot ends in running, stop ends in stopped."""

    kind: str
    settles_at: float


@dataclasses.dataclass(frozen=True)
class Outcome:
    status: str
    message: str | None = None


@dataclasses.dataclass(repr=False)
class Computer:
    id: str
    name: str
    workspace_id: str
    os: str
    ram: int
    cpu: int
    gpu: str
    image: str | None
    resolution: str
    disk_size_gb: int
    auto_stop_minutes: int | None
    created_at: float
    instance_id: str
    vnc_password: str
    boot_seconds: float
    status: str
    status_message: str | None = None
    transition: Transition | None = None
    running_since: float | None = None
    bandwidth_limit_mbps: int | None = None

    def __repr__(self) -> str:
        return f"<Computer {self.name!r} {self.id} {self.status}>"


@dataclasses.dataclass
class RequestRecord:
    """One ``/api`` request as it arrived; ``status`` stays None if nothing was answered."""

    method: str
    path: str
    time: float
    body: Any
    status: int | None = None
    fault: str | None = None
    fault_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = {
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "time": self.time,
            "body": self.body,
        }
        if self.fault is not None:
            data["fault"] = self.fault
            data["fault_id"] = self.fault_id
        return data


class SimulatorState:
    """Everything the simulator knows; one instance per server."""

    def __init__(
        self,
        *,
        clock: Clock = time.time,
        boot_seconds: float = DEFAULT_BOOT_SECONDS,
        api_keys: Sequence[str] = (DEFAULT_API_KEY,),
        workspaces: Sequence[tuple[str, str]] = ((DEFAULT_WORKSPACE_ID, DEFAULT_WORKSPACE_NAME),),
        fault_seed: int | None = None,
    ) -> None:
        self.clock = clock
        self.boot_seconds = boot_seconds
        self.faults = FaultBook(seed=fault_seed)
        self.keys: list[ApiKey] = []
        self.replace_keys(api_keys)
        self._workspaces: dict[str, Workspace] = {}
        for workspace_id, name in workspaces:
            self.add_workspace(workspace_id=workspace_id, name=name)
        self._computers: dict[str, Computer] = {}
        self._outcomes: dict[str, Outcome] = {}
        self._requests: list[RequestRecord] = []

    def __repr__(self) -> str:
        return (
            f"<SimulatorState workspaces={len(self._workspaces)} computers={len(self._computers)}"
            f" keys={len(self.keys)} boot_seconds={self.boot_seconds}>"
        )

    # Keys and scope.

    def replace_keys(self, keys: Iterable[str]) -> None:
        self.keys = [ApiKey.parse(text) for text in keys]

    def authenticate(self, authorization: str | None) -> ApiKey:
        """The key behind an ``Authorization`` header, or `Unauthorized`."""
        if not authorization:
            raise Unauthorized("Missing API key: send the header 'Authorization: Bearer <key>'.")
        if not authorization.startswith(BEARER_PREFIX):
            raise Unauthorized("Malformed Authorization header: expected 'Bearer <key>'.")
        offered = authorization[len(BEARER_PREFIX) :].strip().encode()

        # Compare every key in constant time so timing reveals nothing of them.
        found = None
        for key in self.keys:
            if hmac.compare_digest(key.secret.encode(), offered):
                found = key
        if found is None:
            raise Unauthorized("Invalid API key.")
        return found

    def check_scope(self, *, key: ApiKey, workspace_id: str) -> None:
        if key.workspace_id is not None and key.workspace_id != workspace_id:
            raise Forbidden(
                f"This API key is scoped to workspace {key.workspace_id} and cannot reach"
                f" workspace {workspace_id}.",
                code=CODE_WORKSPACE_SCOPE_MISMATCH,
                key_workspace_id=key.workspace_id,
                target_workspace_id=workspace_id,
            )

    # Workspaces.

    def add_workspace(self, *, name: str, workspace_id: str | None = None) -> Workspace:
        workspace_id = workspace_id or str(uuid.uuid4())
        if workspace_id in self._workspaces:
            raise Conflict(f"A workspace with id {workspace_id} already exists.")
        workspace = Workspace(id=workspace_id, name=name, created_at=self.clock())
        self._workspaces[workspace_id] = workspace
        return workspace

    def all_workspaces(self) -> list[Workspace]:
        return list(self._workspaces.values())

    def workspaces_for(self, key: ApiKey) -> list[Workspace]:
        return [
            workspace
            for workspace in self._workspaces.values()
            if key.workspace_id is None or key.workspace_id == workspace.id
        ]

    def get_workspace(self, *, key: ApiKey, workspace_id: str) -> Workspace:
        self.check_scope(key=key, workspace_id=workspace_id)
        workspace = self._workspaces.get(workspace_id)
        if workspace is None:
            raise NotFound(f"Workspace {workspace_id} not found.")
        return workspace

    def computers_in(self, workspace_id: str) -> list[Computer]:
        return [c for c in self.all_computers() if c.workspace_id == workspace_id]

    # Computers, as the API reaches them.

    def create_computer(self, *, key: ApiKey, body: Any) -> Computer:
        spec = parse_create_body(body)
        workspace = self.get_workspace(key=key, workspace_id=spec.workspace_id)
        for other in self._computers.values():
            if other.workspace_id == workspace.id and other.name == spec.name:
                raise Conflict(
                    f"A computer named '{spec.name}' already exists in workspace"
                    f" '{workspace.name}' ({workspace.id})."
                )

        now = self.clock()
        computer = Computer(
            id=str(uuid.uuid4()),
            name=spec.name,
            workspace_id=workspace.id,
            os=spec.os,
            ram=spec.ram,
            cpu=spec.cpu,
            gpu=spec.gpu,
            image=spec.image,
            resolution=spec.resolution,
            disk_size_gb=spec.disk_size_gb,
            auto_stop_minutes=spec.auto_stop_minutes,
            created_at=now,
            instance_id=secrets.token_hex(7),
            vnc_password=_new_vnc_password(),
            boot_seconds=self.boot_seconds,
            status=STATUS_STARTING,
            transition=Transition(kind=_TRANSITION_BOOT, settles_at=now + self.boot_seconds),
        )
        self._computers[computer.id] = computer
        return computer

    def get_computer(self, *, key: ApiKey, computer_id: str) -> Computer:
        computer = self.find_computer(computer_id)
        if computer is None:
            raise NotFound(f"Computer {computer_id} not found.")
        self.check_scope(key=key, workspace_id=computer.workspace_id)
        return computer

    def delete_computer(self, *, key: ApiKey, computer_id: str) -> Computer:
        computer = self.get_computer(key=key, computer_id=computer_id)
        del self._computers[computer.id]
        return computer

    def start_computer(self, *, key: ApiKey, computer_id: str) -> Computer:
        computer = self.get_computer(key=key, computer_id=computer_id)
        if computer.status not in (STATUS_RUNNING, STATUS_STARTING, STATUS_RESTARTING):
            self._begin(computer, status=STATUS_STARTING, kind=_TRANSITION_BOOT)
        return computer

    def stop_computer(self, *, key: ApiKey, computer_id: str) -> Computer:
        computer = self.get_computer(key=key, computer_id=computer_id)
        if computer.status not in (STATUS_STOPPED, STATUS_STOPPING):
            self._begin(computer, status=STATUS_STOPPING, kind=_TRANSITION_STOP)
        return computer

    def restart_computer(self, *, key: ApiKey, computer_id: str) -> Computer:
        computer = self.get_computer(key=key, computer_id=computer_id)

        # A restart already under way is the same restart: no second rotation.
        if computer.status != STATUS_RESTARTING:
            computer.vnc_password = _new_vnc_password()
            self._begin(computer, status=STATUS_RESTARTING, kind=_TRANSITION_BOOT)
        return computer

    def resize_computer(self, *, key: ApiKey, computer_id: str, body: Any) -> Computer:
        computer = self.get_computer(key=key, computer_id=computer_id)
        changes = parse_resize_body(body, current_disk_size_gb=computer.disk_size_gb)
        if computer.status != STATUS_RUNNING:
            raise Conflict(
                f"Computer '{computer.name}' is {computer.status}; it can be resized only"
                " while running."
            )
        computer.cpu = changes.get("vcpus", computer.cpu)
        computer.ram = changes.get("mem_gb", computer.ram)
        computer.disk_size_gb = changes.get("disk_size_gb", computer.disk_size_gb)
        computer.bandwidth_limit_mbps = changes.get(
            "bandwidth_limit_mbps", computer.bandwidth_limit_mbps
        )
        return computer

    # Computers, as the control endpoints reach them.

    def find_computer(self, computer_id: str) -> Computer | None:
        computer = self._computers.get(computer_id)
        if computer is not None:
            self._settle(computer)
        return computer

    def all_computers(self) -> list[Computer]:
        computers = list(self._computers.values())
        for computer in computers:
            self._settle(computer)
        return computers

    def force_status(self, *, computer_id: str, status: str, message: str | None) -> Computer:
        computer = self.find_computer(computer_id)
        if computer is None:
            raise NotFound(f"Computer {computer_id} not found.")
        computer.status = status
        computer.status_message = message
        computer.transition = None
        computer.running_since = self.clock() if status == STATUS_RUNNING else None
        return computer

    def set_outcome(self, *, name: str, outcome: Outcome) -> None:
        self._outcomes[name] = outcome

    def clear_outcome(self, name: str) -> bool:
        return self._outcomes.pop(name, None) is not None

    @property
    def outcomes(self) -> dict[str, Outcome]:
        return dict(self._outcomes)

    # The request log.

    def record_request(self, *, method: str, path: str, body: Any) -> RequestRecord:
        record = RequestRecord(method=method, path=path, time=self.clock(), body=body)
        self._requests.append(record)
        return record

    @property
    def requests(self) -> list[RequestRecord]:
        return list(self._requests)

    def clear_requests(self) -> None:
        self._requests = []

    def reset(self) -> None:
        """Forget computers, requests, outcomes and faults; workspaces and keys stay."""
        self._computers = {}
        self._requests = []
        self._outcomes = {}
        self.faults.clear()

    # Rendering.

    def computer_json(self, computer: Computer, *, site_url: str) -> dict[str, Any]:
        """The computer object as the API returns it; ``site_url`` is the simulator's root."""
        workspace = self._workspaces.get(computer.workspace_id)
        data: dict[str, Any] = {
            "id": computer.id,
            "name": computer.name,
            "workspace_id": computer.workspace_id,
            "project_name": workspace.name if workspace else None,
            "os": computer.os,
            "ram": computer.ram,
            "cpu": computer.cpu,
            "gpu": computer.gpu,
            "disk_size_gb": computer.disk_size_gb,
            "resolution": computer.resolution,
            "status": computer.status,
            "url": f"{site_url}/workspaces/{computer.id}",
            "created_at": iso_timestamp(computer.created_at),
            "auto_stop_minutes": computer.auto_stop_minutes,
            "instance_id": computer.instance_id,
            "fly_instance_id": computer.instance_id,
            "hostname": f"{computer.instance_id}.localhost",
            "connection_url": f"{site_url}/desktops/{computer.instance_id}",
            "vnc_password": computer.vnc_password,
        }
        if computer.image is not None:
            data["image"] = computer.image
        if computer.status_message is not None:
            data["status_message"] = computer.status_message
        if computer.bandwidth_limit_mbps is not None:
            data["bandwidth_limit_mbps"] = computer.bandwidth_limit_mbps
        return data

    def workspace_summary_json(self, workspace: Workspace) -> dict[str, Any]:
        return {
            "id": workspace.id,
            "name": workspace.name,
            "created_at": iso_timestamp(workspace.created_at),
            "computer_count": len(self.computers_in(workspace.id)),
        }

    def workspace_json(
        self, workspace: Workspace, *, site_url: str, computers_key: str
    ) -> dict[str, Any]:
        computers = self.computers_in(workspace.id)
        return {
            **self.workspace_summary_json(workspace),
            computers_key: [self.computer_json(c, site_url=site_url) for c in computers],
        }

    # Lifecycle.

    def _begin(self, computer: Computer, *, status: str, kind: str) -> None:
        computer.status = status
        computer.status_message = None
        computer.running_since = None
        computer.transition = Transition(
            kind=kind, settles_at=self.clock() + computer.boot_seconds
        )

    def _settle(self, computer: Computer) -> None:
        """Bring a computer's status up to the clock."""
        now = self.clock()
        transition = computer.transition
        if transition is not None and now >= transition.settles_at:
            computer.transition = None
            if transition.kind == _TRANSITION_STOP:
                computer.status = STATUS_STOPPED
                computer.status_message = None
            else:
                outcome = self._outcomes.get(computer.name, Outcome(status=STATUS_RUNNING))
                computer.status = outcome.status
                computer.status_message = outcome.message
                if outcome.status == STATUS_RUNNING:
                    computer.running_since = transition.settles_at

        # Idle computers stop themselves; the simulator sees no desktop activity,
        # so running time counts as idle time.
        minutes = computer.auto_stop_minutes
        since = computer.running_since
        if computer.status == STATUS_RUNNING and minutes and since is not None:
            if now >= since + minutes * _SECONDS_PER_MINUTE:
                computer.status = STATUS_STOPPED
                computer.status_message = f"Stopped after {minutes} idle minutes."
                computer.running_since = None


def iso_timestamp(epoch: float) -> str:
    """ISO 8601 in UTC with a ``Z``, to the second, as the API writes it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def parse_create_body(body: Any) -> ComputerSpec:
    """Validate a create body field by field; `BadRequest` names the first bad field."""
    if not isinstance(body, Mapping):
        raise BadRequest("Request body must be a JSON object.")

    workspace_id = body.get("workspace_id")
    if workspace_id is None:
        raise BadRequest("Field 'workspace_id' is required.")
    if not isinstance(workspace_id, str) or not workspace_id:
        raise BadRequest(
            f"Field 'workspace_id' must be a workspace id string; got {workspace_id!r}."
        )

    name = body.get("name")
    if name is None:
        raise BadRequest("Field 'name' is required.")
    if not isinstance(name, str) or not 1 <= len(name) <= NAME_MAX_LENGTH:
        shown = f"{len(name)} characters" if isinstance(name, str) else repr(name)
        raise BadRequest(
            f"Field 'name' must be a string of 1 to {NAME_MAX_LENGTH} characters; got {shown}."
        )

    image = body.get("image")
    if image is not None and (not isinstance(image, str) or not image):
        raise BadRequest(f"Field 'image' must be a non-empty image reference; got {image!r}.")

    resolution = body.get("resolution")
    if resolution is None:
        resolution = DEFAULT_RESOLUTION
    elif not isinstance(resolution, str) or not RESOLUTION_PATTERN.match(resolution):
        raise BadRequest(
            "Field 'resolution' must be WIDTHxHEIGHTxDEPTH, such as 1920x1080x24;"
            f" got {resolution!r}."
        )

    return ComputerSpec(
        workspace_id=workspace_id,
        name=name,
        os=_choice(body, "os", OS_CHOICES, default=DEFAULT_OS),
        ram=_choice(body, "ram", RAM_CHOICES_GB, default=DEFAULT_RAM_GB),
        cpu=_choice(body, "cpu", CPU_CHOICES, default=DEFAULT_CPU),
        gpu=_choice(body, "gpu", GPU_CHOICES, default=DEFAULT_GPU),
        image=image,
        resolution=resolution,
        disk_size_gb=_integer(body, "disk_size_gb", minimum=1, default=DEFAULT_DISK_SIZE_GB),
        auto_stop_minutes=_integer(body, "auto_stop_minutes", minimum=0, default=None),
    )


def parse_resize_body(body: Any, *, current_disk_size_gb: int) -> dict[str, int]:
    """Validate a resize body; only the fields given are returned."""
    if not isinstance(body, Mapping):
        raise BadRequest("Request body must be a JSON object.")
    changes: dict[str, int] = {}
    if body.get("vcpus") is not None:
        changes["vcpus"] = _choice(body, "vcpus", CPU_CHOICES, default=None)
    if body.get("mem_gb") is not None:
        changes["mem_gb"] = _choice(body, "mem_gb", RAM_CHOICES_GB, default=None)
    if body.get("disk_size_gb") is not None:
        disk = _integer(body, "disk_size_gb", minimum=1, default=None)
        if disk < current_disk_size_gb:
            raise BadRequest(
                f"Field 'disk_size_gb' can only grow: the disk has {current_disk_size_gb} GB,"
                f" {disk} GB was asked."
            )
        changes["disk_size_gb"] = disk
    if body.get("bandwidth_limit_mbps") is not None:
        changes["bandwidth_limit_mbps"] = _integer(
            body, "bandwidth_limit_mbps", minimum=1, default=None
        )
    if not changes:
        raise BadRequest(f"Nothing to resize: give at least one of {', '.join(RESIZE_FIELDS)}.")
    return changes


def _choice(body: Mapping[str, Any], field: str, choices: Sequence[Any], *, default: Any) -> Any:
    value = body.get(field)
    if value is None:
        return default

    # JSON true is not the integer 1, though Python says it equals it.
    if isinstance(value, bool) or value not in choices or type(value) is not type(choices[0]):
        allowed = ", ".join(str(choice) for choice in choices)
        raise BadRequest(f"Field '{field}' must be one of {allowed}; got {value!r}.")
    return value


def _integer(body: Mapping[str, Any], field: str, *, minimum: int, default: Any) -> Any:
    value = body.get(field)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BadRequest(
            f"Field '{field}' must be an integer of at least {minimum}; got {value!r}."
        )
    return value


def _new_vnc_password() -> str:
    return secrets.token_urlsafe(12)
