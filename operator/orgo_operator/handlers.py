"""
The kopf glue: which events reach the reconciler, and in which order. Kept thin on purpose:
the decisions live in `orgo_operator.reconcile`.

    kopf run -m orgo_operator.handlers --all-namespaces     # or: orgo-operator run -A

Per resource there is one converge loop (a kopf daemon) that alone creates and observes the
computer, an update handler that wakes it when the spec changes, and a deletion handler behind
a finalizer. The loop and the deletion share a lock, so a delete never races a create.
"""
from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
from collections.abc import Callable, Mapping
from typing import Any

import kopf

from orgo_operator import GROUP, PLURAL, VERSION, startup
from orgo_operator.kube import KubeApi, ResourceGone
from orgo_operator.metrics import Metrics
from orgo_operator.orgo import OrgoAPIError, OrgoClient, OrgoError
from orgo_operator.reconcile import conditions, failures
from orgo_operator.reconcile.lifecycle import (
    CREATE_PENDING_ANNOTATION,
    Reconciler,
    created_by_pending_create,
    Resource,
    Schedule,
)
from orgo_operator.reconcile.spec import ComputerSpec, InvalidSpec
from orgo_operator.settings import Settings, SettingsError

FINALIZER = "orgo.ai/delete-computer"
EVENT_DELETED = "DeletedComputer"
EVENT_ORPHANED = "OrphanedComputer"
EVENT_CANNOT_DELETE = "CannotDeleteComputer"

# A converge step in flight (at most one Orgo call, bounded by its timeout, and two writes)
# is let finish when the resource goes or the operator stops; past the grace it is cancelled.
CANCELLATION_GRACE = 30.0
CANCELLATION_TIMEOUT = 10.0

# After an unexpected error in the loop itself (a bug, or the API server refusing a write).
LOOP_ERROR_DELAY = 5.0


@dataclasses.dataclass
class Guard:
    """Per-resource coordination between the converge loop, the watcher and the deletion."""

    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)
    wakeup: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)


def _guard(memo: kopf.Memo) -> Guard:
    # kopf gives each resource its own shallow copy of the operator's memo.
    if "guard" not in memo:
        memo["guard"] = Guard()
    return memo["guard"]


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo,
                    logger: logging.Logger, **_: Any) -> None:
    if "settings" not in memo:
        try:
            memo["settings"] = Settings.from_env()
        except SettingsError as exc:
            raise kopf.PermanentError(str(exc)) from None
    config: Settings = memo["settings"]

    # The CRD's status is a structural schema, which prunes unknown fields: kopf's progress,
    # its diff-base and handler results would vanish from the status. Annotations keep them.
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration")

    # Events are posted on purpose, one per transition; log lines stay logs.
    settings.posting.level = logging.WARNING
    logging.getLogger("httpx").setLevel(logging.WARNING)

    # Of several peering replicas one works; one that dies silently is taken over once its
    # record is this old, so the lifetime bounds the failover.
    settings.peering.lifetime = config.peering_lifetime

    # The clients, then the metrics port; `orgo-operator run` has built them before kopf
    # started, and what the memo holds is kept, also when kopf retries this handler.
    startup.prepare(memo=memo, settings=config, logger=logger)
    logger.info(f"Managing Orgo computers through {config.api_url} with {config!r}.")


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    if "orgo" in memo:
        await memo["orgo"].close()
    if "kube" in memo:
        memo["kube"].close()
    if "metrics_server" in memo:
        memo["metrics_server"].close()


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    return kopf.login_via_client(**kwargs)


@kopf.index(GROUP, VERSION, PLURAL, id="claims")
def claims(namespace: str, name: str, status: kopf.Status,
           **_: Any) -> dict[str, tuple[str, str]] | None:
    # Which resource holds which computer, so that none adopts a computer another one holds.
    computer_id = status.get("id")
    return {computer_id: (namespace, name)} if computer_id else None


def _claimed_elsewhere(index: kopf.Index, *, namespace: str,
                       name: str) -> Callable[[str], bool]:
    def claimed(computer_id: str) -> bool:
        return any(owner != (namespace, name) for owner in index.get(computer_id, ()))
    return claimed


@kopf.on.update(GROUP, VERSION, PLURAL, id="wake", field="spec")
def wake(memo: kopf.Memo, **_: Any) -> None:
    # The loop may be asleep for minutes, or for good after a rejection or an error: a new
    # spec is worth a look now.
    _guard(memo).wakeup.set()


@kopf.daemon(GROUP, VERSION, PLURAL, id="converge",
             cancellation_backoff=CANCELLATION_GRACE, cancellation_timeout=CANCELLATION_TIMEOUT)
async def converge(stopped: kopf.DaemonStopped, body: kopf.Body, name: str, namespace: str,
                   memo: kopf.Memo, logger: logging.Logger, claims: kopf.Index,
                   **_: Any) -> None:
    guard = _guard(memo)
    config: Settings = memo["settings"]
    metrics: Metrics = memo["metrics"]
    reconciler = Reconciler(
        orgo=memo["orgo"],
        kube=memo["kube"].resource(namespace=namespace, name=name, body=body),
        schedule=Schedule(poll_initial=config.poll_initial, poll_factor=config.poll_factor,
                          poll_max=config.poll_max, resync_interval=config.resync_interval),
        policy=retry_policy(config),
        status=body.status,
        live_status=lambda: body.status,
        claimed_elsewhere=_claimed_elsewhere(claims, namespace=namespace, name=name),
        annotations=body.metadata.annotations,
        logger=logger,
    )
    loop_errors = 0
    while not stopped:
        async with guard.lock:
            if stopped or body.metadata.get("deletionTimestamp"):
                break
            guard.wakeup.clear()

            # `body` is kept fresh by kopf: each pass reads the latest spec and generation.
            resource = Resource(name=name, generation=body.metadata.get("generation"),
                                spec=dict(body.spec))
            try:
                delay = await reconciler.reconcile(resource)
                loop_errors = 0
                metrics.reconciled(namespace=namespace, name=name, status=reconciler.status)
            except ResourceGone:
                metrics.forget(namespace=namespace, name=name)
                return
            except Exception:
                metrics.reconcile_failed()
                loop_errors += 1
                delay = failures.backoff(loop_errors, base=LOOP_ERROR_DELAY)
                logger.exception(f"Reconciling failed unexpectedly; trying again in {delay:.0f}s.")
        await _pause(stopped, guard.wakeup, delay)

    # Deleted, or this replica paused for a peer: another one reports it from now on.
    metrics.forget(namespace=namespace, name=name)


def retry_policy(config: Settings) -> failures.RetryPolicy:
    # A missing workspace may be created any time; looking for it at the resync pace is enough.
    return failures.RetryPolicy(backoff_max=config.backoff_max,
                                auth_retry=config.auth_retry_interval,
                                missing_workspace_retry=config.resync_interval)


async def _pause(stopped: kopf.DaemonStopped, wakeup: asyncio.Event,
                 delay: float | None) -> None:
    """Sleep for the delay (forever if None), or until stopped, or until the spec changes."""
    if delay is not None and delay <= 0:
        return

    async def until_stopped() -> None:
        await stopped.wait()

    waiters = [asyncio.ensure_future(until_stopped()), asyncio.ensure_future(wakeup.wait())]
    try:
        await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


@kopf.on.delete(GROUP, VERSION, PLURAL, id="release")
async def release(name: str, namespace: str, memo: kopf.Memo, logger: logging.Logger,
                  body: kopf.Body, retry: int, claims: kopf.Index, **_: Any) -> None:
    guard = _guard(memo)
    orgo: OrgoClient = memo["orgo"]
    policy = retry_policy(memo["settings"])
    memo["metrics"].forget(namespace=namespace, name=name)

    # Wait for a converge step in flight, then read what it left: the copy kopf handed over
    # may predate the id that step just recorded.
    async with guard.lock:
        stored = await memo["kube"].read(namespace=namespace, name=name)
        if stored is None:
            return
        status = stored.get("status") or {}
        annotations = stored.get("metadata", {}).get("annotations") or {}
        spec = stored.get("spec") or {}
        computer_id = status.get("id")

        if spec.get("deletionPolicy") == "Orphan":
            if computer_id:
                kopf.event(body, type="Normal", reason=EVENT_ORPHANED,
                           message=f"Left computer {computer_id} in Orgo "
                                   "(deletionPolicy Orphan).")
            logger.info("Leaving the computer, if any, in Orgo, as deletionPolicy is Orphan.")
            return

        # A create was sent but its answer never recorded: the computer may still exist.
        if not computer_id and annotations.get(CREATE_PENDING_ANNOTATION):
            computer_id = await _find_pending(
                orgo, spec, name=name, retry=retry,
                pending=annotations[CREATE_PENDING_ANNOTATION], policy=policy,
                claimed_elsewhere=_claimed_elsewhere(claims, namespace=namespace, name=name))

        if not computer_id:
            logger.info("No computer was created for this resource; releasing it at once.")
            return

        try:
            await orgo.delete_computer(computer_id)
        except OrgoAPIError as exc:
            if exc.status_code != 404:
                await _report_delete_failure(memo["kube"], stored, exc)
                raise _retry_later(exc, retry=retry, body=body, action="delete",
                                   policy=policy) from None
            logger.info(f"Computer {computer_id} was already gone from Orgo; "
                        "releasing the resource.")
            return
        except OrgoError as exc:
            await _report_delete_failure(memo["kube"], stored, exc)
            raise _retry_later(exc, retry=retry, body=body, action="delete",
                               policy=policy) from None

    kopf.event(body, type="Normal", reason=EVENT_DELETED,
               message=f"Deleted computer {computer_id} from Orgo.")
    logger.info(f"Deleted computer {computer_id} from Orgo; releasing the resource.")


async def _report_delete_failure(kube: KubeApi, stored: Mapping[str, Any],
                                 error: OrgoError) -> None:
    # The finalizer holds the resource; `kubectl get` should say why, not still say Running.
    metadata = stored["metadata"]
    status = stored.get("status") or {}
    readiness = conditions.Readiness.not_ready(
        conditions.REASON_DELETE_FAILED,
        f"Cannot delete the computer: {str(error).rstrip('.')}. The finalizer stays until "
        "Orgo confirms the deletion.")
    patch = {"conditions": conditions.set_ready_condition(
        status.get("conditions"), readiness, generation=metadata.get("generation"),
        now=datetime.datetime.now(datetime.timezone.utc))}
    try:
        await kube.patch(namespace=metadata["namespace"], name=metadata["name"],
                         body={"status": patch}, status=True)
    except ResourceGone:
        pass


async def _find_pending(orgo: OrgoClient, spec: dict[str, Any], *, name: str, retry: int,
                        pending: str, policy: failures.RetryPolicy,
                        claimed_elsewhere: Callable[[str], bool]) -> str | None:
    try:
        wanted = ComputerSpec.from_resource(spec, resource_name=name)
    except InvalidSpec:
        return None
    try:
        workspace = await orgo.get_workspace(wanted.workspace_id)
    except OrgoAPIError as exc:
        if exc.status_code == 404:
            return None
        raise _retry_later(exc, retry=retry, body=None, action="look up",
                           policy=policy) from None
    except OrgoError as exc:
        raise _retry_later(exc, retry=retry, body=None, action="look up",
                           policy=policy) from None
    found = workspace.find(wanted.name)
    if found is None or not created_by_pending_create(found, pending=pending,
                                                      claimed_elsewhere=claimed_elsewhere):
        return None
    return found.id


def _retry_later(error: OrgoError, *, retry: int, body: kopf.Body | None, action: str,
                 policy: failures.RetryPolicy) -> kopf.TemporaryError:
    failure = failures.classify(error, failures=retry + 1, policy=policy)
    delay = failure.delay if failure.delay is not None else failures.BACKOFF_MAX
    if body is not None and retry == 0:
        kopf.event(body, type="Warning", reason=EVENT_CANNOT_DELETE,
                   message=f"Cannot {action} the computer: {error}. The finalizer stays.")
    return kopf.TemporaryError(
        f"Cannot {action} the computer: {error}. Trying again in {delay:.0f}s.", delay=delay)

