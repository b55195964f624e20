"""
One OrgoComputer's lifecycle, read top to bottom: read the spec, find or create the computer,
observe it, report. Each pass does one step and says when to come back; nothing here waits
for a computer to boot.

The reconciler is the only writer of the resource's status and of its create-pending mark, so
it keeps its own copy of both: a status it has just written is known at once, without waiting
for the watch to bring it back. That is what keeps a second create from happening.
"""
from __future__ import annotations

import dataclasses
import datetime
import logging
import math
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from orgo_operator.orgo import Computer, OrgoAPIError, OrgoClient, OrgoError
from orgo_operator.reconcile import conditions, failures
from orgo_operator.reconcile.conditions import Readiness
from orgo_operator.reconcile.spec import ComputerSpec, InvalidSpec

# Set on the resource just before POST /computers, removed once the id is in the status. Found
# on a resource without an id, it means a create may have reached Orgo unrecorded.
CREATE_PENDING_ANNOTATION = "orgo.ai/create-pending"

EVENT_CREATED = "CreatedComputer"
EVENT_ADOPTED = "AdoptedComputer"
EVENT_READY = "ComputerReady"
EVENT_FAILED = "ComputerFailed"
EVENT_VANISHED = "ComputerVanished"
EVENT_CANNOT_CREATE = "CannotCreateComputer"
EVENT_CANNOT_OBSERVE = "CannotObserveComputer"
EVENT_NAME_CONFLICT = "NameConflict"


def created_by_pending_create(computer: Computer, *, pending: str | None,
                              claimed_elsewhere: Callable[[str], bool]) -> bool:
    """
    Whether a computer found by name can be the one a pending create (marked then) made: no
    other resource's status names it, and it is no older than the mark. Orgo dates computers
    to the second, so the mark is too.

    Every doubt counts against adopting: a computer taken by mistake would be deleted with
    this resource, while one wrongly refused is only a NameConflict that a person resolves.
    A clock of Orgo's that runs behind ours errs the same safe way.
    """
    if claimed_elsewhere(computer.id):
        return False
    pending_at = conditions.parse_time(pending)
    if pending_at is None or computer.created_at is None:
        return False
    return computer.created_at >= pending_at.replace(microsecond=0)


class Kube(Protocol):
    """The Kubernetes side of one resource, as the reconciler needs it."""

    async def patch_status(self, patch: Mapping[str, Any]) -> Mapping[str, Any]:
        """Merge the patch into the status; return the status as stored."""

    async def annotate(self, annotations: Mapping[str, str | None]) -> None:
        """Set (or with None, remove) annotations on the resource."""

    def event(self, kind: str, reason: str, message: str) -> None:
        """Post an event on the resource: kind is Normal or Warning."""


@dataclasses.dataclass(frozen=True)
class Resource:
    """What the reconciler reads of the resource on each pass."""

    name: str
    generation: int | None
    spec: Mapping[str, Any]


@dataclasses.dataclass
class Schedule:
    """The paces of observation, from the settings."""

    poll_initial: float
    poll_factor: float
    poll_max: float
    resync_interval: float

    def poll(self, attempt: int) -> float:
        # Past the cap, the power is not even computed: a large factor would overflow it.
        if self.poll_factor > 1 and attempt >= math.log(self.poll_max / self.poll_initial,
                                                        self.poll_factor):
            return self.poll_max
        return min(self.poll_max, self.poll_initial * self.poll_factor ** attempt)


class Reconciler:
    def __init__(
            self,
            *,
            orgo: OrgoClient,
            kube: Kube,
            schedule: Schedule,
            policy: failures.RetryPolicy = failures.DEFAULT_POLICY,
            status: Mapping[str, Any],
            live_status: Callable[[], Mapping[str, Any]] | None = None,
            claimed_elsewhere: Callable[[str], bool] | None = None,
            annotations: Mapping[str, str],
            logger: logging.Logger | logging.LoggerAdapter,
            clock: Callable[[], datetime.datetime] | None = None,
    ) -> None:
        self._orgo = orgo
        self._kube = kube
        self._schedule = schedule
        self._policy = policy
        self._status: dict[str, Any] = dict(status)
        self._live_status = live_status or (lambda: self._status)
        self._claimed_elsewhere = claimed_elsewhere or (lambda computer_id: False)
        self._pending: str | None = annotations.get(CREATE_PENDING_ANNOTATION)
        self._logger = logger
        self._clock = clock or (lambda: datetime.datetime.now(datetime.timezone.utc))
        self._polls = 0  # observations since the last change of phase
        self._failures = 0  # failed calls in a row

    @property
    def status(self) -> Mapping[str, Any]:
        return self._status

    async def reconcile(self, resource: Resource) -> float | None:
        """
        Take one step towards a running computer. Return the seconds until the next step, or
        None when nothing will change until the spec does.
        """

        # A spec that cannot become a request is reported and waits for an edit.
        try:
            spec = ComputerSpec.from_resource(resource.spec, resource_name=resource.name)
        except InvalidSpec as exc:
            await self._report(resource, Readiness.not_ready(conditions.REASON_INVALID_SPEC,
                                                             str(exc)))
            return None

        # With an id recorded, the computer exists as far as we know: look at it.
        computer_id = self._status.get("id")
        if computer_id:
            return await self._observe(resource, spec, computer_id)

        # A create that Orgo refused is not sent again until the spec changes.
        if self._rejected_at(resource.generation):
            return None

        # A create may have reached Orgo while its answer was lost: find it before creating.
        if self._pending is not None:
            try:
                found = await self._find_by_name(spec)
            except OrgoError as exc:
                return await self._fail(resource, exc, action="look up the pending computer",
                                        event_reason=EVENT_CANNOT_CREATE)
            if found is not None:
                return await self._adopt_or_refuse(resource, spec, found, may_be_ours=True)
            self._logger.info(
                f"No computer named {spec.name!r} exists in workspace {spec.workspace_id}: "
                "the pending create never reached Orgo, so it is sent again."
            )

        return await self._create(resource, spec)

    async def _create(self, resource: Resource, spec: ComputerSpec) -> float | None:

        # Say so first, so that a slow create reads as one in `kubectl get` and not as nothing.
        if self._ready_condition() is None:
            await self._report(resource, Readiness.not_ready(
                conditions.REASON_CREATING, "Asking Orgo to create the computer."))

        # The pending mark goes on before the call: if the process dies during the call, the
        # next pass knows to look for the computer instead of creating a second one. A mark
        # left by an earlier attempt stays as it is: it dates the earliest create in doubt.
        first_attempt = self._pending is None
        if first_attempt:
            pending = conditions.format_time(self._clock(), precise=True)
            await self._kube.annotate({CREATE_PENDING_ANNOTATION: pending})
            self._pending = pending

        try:
            computer = await self._orgo.create_computer(spec.create_body())
        except OrgoAPIError as exc:
            if exc.status_code == 409:
                return await self._create_conflicted(resource, spec, exc,
                                                     first_attempt=first_attempt)

            # A refusal (4xx) means this request created nothing; a 5xx may come from a
            # gateway after Orgo did the work, so it counts as no answer.
            if exc.status_code < 500 and first_attempt:
                await self._clear_pending()
            return await self._fail(resource, exc, action="create the computer",
                                    event_reason=EVENT_CANNOT_CREATE)
        except OrgoError as exc:
            # No answer: the computer may exist. The pending mark stays, so the next pass looks.
            return await self._fail(resource, exc, action="create the computer",
                                    event_reason=EVENT_CANNOT_CREATE)

        # The id goes into the status before anything else can go wrong.
        await self._record(resource, spec, computer)
        await self._clear_pending()
        self._kube.event("Normal", EVENT_CREATED,
                         f"Created computer {computer.id} named {spec.name!r} in workspace "
                         f"{spec.workspace_id}.")
        self._logger.info(f"Created computer {computer.id}; it is {computer.status}.")
        return self._next_observation(computer.status)

    async def _create_conflicted(self, resource: Resource, spec: ComputerSpec,
                                 error: OrgoAPIError, *, first_attempt: bool) -> float | None:
        # 409 is the name being taken, by an earlier create of ours that committed late or by
        # someone else, or a state that forbids the create for now: the workspace tells which.
        try:
            found = await self._find_by_name(spec)
        except OrgoError as exc:
            return await self._fail(resource, exc, action="look up the conflicting name",
                                    event_reason=EVENT_CANNOT_CREATE)
        if found is not None:
            # Only an earlier create in doubt can have made it: a first create cannot collide
            # with itself.
            return await self._adopt_or_refuse(resource, spec, found,
                                               may_be_ours=not first_attempt)
        if first_attempt:
            await self._clear_pending()
        return await self._fail(resource, error, action="create the computer",
                                event_reason=EVENT_CANNOT_CREATE)

    async def _adopt(self, resource: Resource, spec: ComputerSpec,
                     computer: Computer) -> float | None:
        await self._record(resource, spec, computer)
        await self._clear_pending()
        self._kube.event("Normal", EVENT_ADOPTED,
                         f"Found computer {computer.id} created by an earlier, interrupted "
                         f"attempt, and adopted it instead of creating another.")
        self._logger.info(f"Adopted computer {computer.id} left by an interrupted create.")
        return self._next_observation(computer.status)

    async def _conflict(self, resource: Resource, spec: ComputerSpec) -> float | None:
        await self._clear_pending()
        message = (
            f"A computer named {spec.name!r} already exists in workspace {spec.workspace_id} and "
            "was not created by this resource; it is left alone. Delete it in Orgo, or "
            "re-create this resource with another spec.computerName."
        )
        if self._ready_reason() != conditions.REASON_NAME_CONFLICT:
            self._kube.event("Warning", EVENT_NAME_CONFLICT, message)
        await self._report(resource, Readiness.not_ready(conditions.REASON_NAME_CONFLICT,
                                                         message))
        return self._schedule.resync_interval

    async def _observe(self, resource: Resource, spec: ComputerSpec,
                       computer_id: str) -> float | None:
        try:
            computer = await self._orgo.get_computer(computer_id)
        except OrgoAPIError as exc:
            if exc.status_code != 404:
                return await self._fail(resource, exc, action="observe the computer",
                                        event_reason=EVENT_CANNOT_OBSERVE)
            return await self._vanished(resource, spec, computer_id, exc)
        except OrgoError as exc:
            return await self._fail(resource, exc, action="observe the computer",
                                    event_reason=EVENT_CANNOT_OBSERVE)

        return await self._apply_observation(resource, computer)

    async def _vanished(self, resource: Resource, spec: ComputerSpec, computer_id: str,
                        error: OrgoAPIError) -> float | None:

        # A 404 from a flaky edge must not cost a second computer: the workspace confirms it.
        try:
            found = await self._find_by_name(spec)
        except OrgoError as exc:
            return await self._fail(resource, exc, action="confirm the computer is gone",
                                    event_reason=EVENT_CANNOT_OBSERVE)
        if found is not None and found.id == computer_id:
            return await self._fail(resource, error, action="observe the computer",
                                    event_reason=EVENT_CANNOT_OBSERVE)

        # Deleted outside Kubernetes: forget it, and create a new one on the next pass.
        self._kube.event("Warning", EVENT_VANISHED,
                         f"Computer {computer_id} no longer exists in Orgo; creating a new one.")
        self._logger.warning(f"Computer {computer_id} vanished from Orgo; creating anew.")
        await self._write({"id": None, "url": None, "phase": None}, resource,
                          Readiness.not_ready(conditions.REASON_CREATING,
                                              "The computer vanished; creating a new one."))
        return 0.0

    async def _apply_observation(self, resource: Resource, computer: Computer) -> float | None:
        self._failures = 0
        previous_phase = self._status.get("phase")
        previous_ready = self._ready_reason()
        readiness = conditions.readiness_for_phase(computer.status, message=computer.message)
        patch: dict[str, Any] = {"id": computer.id, "phase": computer.status}
        if computer.url:
            patch["url"] = computer.url
        await self._write(patch, resource, readiness)

        if computer.status != previous_phase:
            self._polls = 0
            if readiness.status == "True" and previous_ready != conditions.REASON_RUNNING:
                self._kube.event("Normal", EVENT_READY, f"Computer {computer.id} is running.")
                self._logger.info(f"Computer {computer.id} is running.")
            elif computer.status == conditions.PHASE_ERROR:
                self._kube.event("Warning", EVENT_FAILED, readiness.message)
                self._logger.warning(f"Computer {computer.id} entered error; observing stops "
                                     "until the spec changes.")
        return self._next_observation(computer.status)

    def _next_observation(self, phase: str) -> float | None:
        if phase == conditions.PHASE_ERROR:
            return None
        if conditions.is_transient(phase):
            delay = self._schedule.poll(self._polls)
            self._polls += 1
            return delay
        return self._schedule.resync_interval

    async def _fail(self, resource: Resource, error: OrgoError, *, action: str,
                    event_reason: str) -> float | None:
        self._failures += 1
        failure = failures.classify(error, failures=self._failures, policy=self._policy)

        # One event per kind of trouble, not one per retry: the condition carries the rest.
        if self._ready_reason() != failure.readiness.reason:
            self._kube.event("Warning", event_reason, f"Cannot {action}: {error}")
        when = "until the spec changes" if failure.permanent else f"in {failure.delay:.1f}s"
        self._logger.warning(f"Cannot {action}: {error}. Trying again {when}.")
        await self._report(resource, failure.readiness)
        return failure.delay

    async def _record(self, resource: Resource, spec: ComputerSpec, computer: Computer) -> None:
        self._failures = 0
        self._polls = 0
        await self._write(
            {
                "id": computer.id,
                "url": computer.url,
                "phase": computer.status,
                "computerName": spec.name,
                "workspaceId": spec.workspace_id,
            },
            resource,
            conditions.readiness_for_phase(computer.status, message=computer.message),
        )

    async def _report(self, resource: Resource, readiness: Readiness) -> None:
        await self._write({}, resource, readiness)

    async def _write(self, fields: Mapping[str, Any], resource: Resource,
                     readiness: Readiness) -> None:
        new_conditions = conditions.set_ready_condition(
            self._status.get("conditions"), readiness,
            generation=resource.generation, now=self._clock(),
        )
        patch = {**fields, "observedGeneration": resource.generation,
                 "conditions": new_conditions}

        # Compared with what is stored, not with what was last written: a status that someone
        # else changed is put right at the next look, and an unchanged one costs no write.
        stored = self._live_status()
        if all(stored.get(key) == value for key, value in patch.items()):
            return
        self._status = dict(await self._kube.patch_status(patch))

    async def _clear_pending(self) -> None:
        if self._pending is not None:
            await self._kube.annotate({CREATE_PENDING_ANNOTATION: None})
            self._pending = None

    async def _find_by_name(self, spec: ComputerSpec) -> Computer | None:
        workspace = await self._orgo.get_workspace(spec.workspace_id)
        return workspace.find(spec.name)

    async def _adopt_or_refuse(self, resource: Resource, spec: ComputerSpec, found: Computer,
                               *, may_be_ours: bool) -> float | None:
        if may_be_ours and created_by_pending_create(
                found, pending=self._pending, claimed_elsewhere=self._claimed_elsewhere):
            return await self._adopt(resource, spec, found)
        return await self._conflict(resource, spec)

    def _rejected_at(self, generation: int | None) -> bool:
        ready = self._ready_condition()
        return (ready is not None
                and ready.get("reason") == conditions.REASON_CREATE_REJECTED
                and ready.get("observedGeneration") == generation)

    def _ready_condition(self) -> Mapping[str, Any] | None:
        return next((item for item in self._status.get("conditions") or ()
                     if item.get("type") == conditions.READY), None)

    def _ready_reason(self) -> str | None:
        ready = self._ready_condition()
        return None if ready is None else ready.get("reason")
