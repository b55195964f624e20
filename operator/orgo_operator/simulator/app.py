"""The simulator's aiohttp application: the Orgo API under ``/api``, controls under ``/_simulator``.

API routes (``Authorization: Bearer <key>``; 401 without a valid key, 403 with
``code: workspace_scope_mismatch`` when a scoped key reaches another workspace):

- ``POST /api/computers`` answers 201 with the computer object, status ``starting``;
- ``GET`` and ``DELETE /api/computers/{id}``; delete answers ``{"success": true}``;
- ``POST /api/computers/{id}/start|stop|restart`` answers
  ``{"success": true, "status": "starting"|"stopping"|"restarting"}``;
- ``PATCH /api/computers/{id}/resize`` answers ``{"success": true, "computer": {...}}``;
- ``GET /api/workspaces`` and ``GET /api/workspaces/{id}`` (computers under
  ``computers``); the deprecated ``/api/projects`` aliases list the workspaces
  under both ``projects`` (what the SDK reads) and ``workspaces``, and put one
  workspace's computers under ``desktops``.

Every error body is ``{"error": "...", "request_id": "<uuid4>"}`` plus, for scope
errors, ``code``, ``key_workspace_id`` and ``target_workspace_id``. A computer
whose boot ended in an outcome rule's status carries the rule's message as
``status_message``. Unknown body fields are ignored, as most JSON APIs do.

Plan limits are not modelled: no 403 for a resize over the plan, no cap of two
concurrent desktops. A fault rule can answer those statuses where a test needs them.

Control routes (no auth), for tests and demos: ``GET /_simulator/computers``,
``POST /_simulator/computers/{id}/status``, ``GET|DELETE /_simulator/requests``,
``POST /_simulator/reset``, ``GET|POST /_simulator/workspaces``,
``GET /_simulator/outcomes``, ``PUT|DELETE /_simulator/outcomes/{name}``,
``GET|PUT /_simulator/boot-seconds``, ``PUT /_simulator/keys`` and
``GET|POST|DELETE /_simulator/faults`` (plus ``DELETE /_simulator/faults/{id}``);
see `orgo_operator.simulator.faults` for the rules. Dashboard pages are served
at ``/``, ``/workspaces/{id}`` (the computer's ``url``) and ``/desktops/{id}``.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from orgo_operator.simulator import faults as fault_rules
from orgo_operator.simulator.state import (
    ApiError,
    ApiKey,
    BadRequest,
    Computer,
    NotFound,
    Outcome,
    SimulatorState,
)

logger = logging.getLogger("orgo_operator.simulator")

API_PREFIX: Final = "/api"
CONTROL_PREFIX: Final = "/_simulator"

# Waiting clients are checked this often, so a hung request ends soon after its
# client gives up or the server stops.
HANG_POLL_SECONDS: Final = 0.05

STATE_KEY: Final = web.AppKey("state", SimulatorState)
CLOSING_KEY: Final = web.AppKey("closing", asyncio.Event)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Route names, and the fault endpoint each one belongs to.
_ROUTE_ENDPOINTS: Final = {
    "create": fault_rules.ENDPOINT_CREATE,
    "get": fault_rules.ENDPOINT_GET,
    "delete": fault_rules.ENDPOINT_DELETE,
    "start": fault_rules.ENDPOINT_START,
    "stop": fault_rules.ENDPOINT_STOP,
    "restart": fault_rules.ENDPOINT_RESTART,
    "resize": fault_rules.ENDPOINT_RESIZE,
    "workspaces": fault_rules.ENDPOINT_WORKSPACE,
    "workspace": fault_rules.ENDPOINT_WORKSPACE,
    "projects": fault_rules.ENDPOINT_WORKSPACE,
    "project": fault_rules.ENDPOINT_WORKSPACE,
}

# Stands for a body that was sent but is not JSON, unlike an absent body.
_INVALID_JSON: Final = object()


def create_app(*, state: SimulatorState) -> web.Application:
    """The whole simulator as one application, serving ``state``."""
    app = web.Application(middlewares=[_middleware])
    app[STATE_KEY] = state
    app[CLOSING_KEY] = asyncio.Event()
    app.on_shutdown.append(_release_waiting_requests)

    api = API_PREFIX
    app.router.add_post(f"{api}/computers", _create_computer, name="create")
    app.router.add_get(f"{api}/computers/{{computer_id}}", _get_computer, name="get")
    app.router.add_delete(f"{api}/computers/{{computer_id}}", _delete_computer, name="delete")
    app.router.add_post(f"{api}/computers/{{computer_id}}/start", _start_computer, name="start")
    app.router.add_post(f"{api}/computers/{{computer_id}}/stop", _stop_computer, name="stop")
    app.router.add_post(
        f"{api}/computers/{{computer_id}}/restart", _restart_computer, name="restart"
    )
    app.router.add_patch(
        f"{api}/computers/{{computer_id}}/resize", _resize_computer, name="resize"
    )
    app.router.add_get(f"{api}/workspaces", _list_workspaces, name="workspaces")
    app.router.add_get(f"{api}/workspaces/{{workspace_id}}", _get_workspace, name="workspace")
    app.router.add_get(f"{api}/projects", _list_projects, name="projects")
    app.router.add_get(f"{api}/projects/{{workspace_id}}", _get_project, name="project")

    control = CONTROL_PREFIX
    app.router.add_get(f"{control}/computers", _control_computers)
    app.router.add_post(f"{control}/computers/{{computer_id}}/status", _control_force_status)
    app.router.add_get(f"{control}/requests", _control_requests)
    app.router.add_delete(f"{control}/requests", _control_clear_requests)
    app.router.add_post(f"{control}/reset", _control_reset)
    app.router.add_get(f"{control}/workspaces", _control_workspaces)
    app.router.add_post(f"{control}/workspaces", _control_add_workspace)
    app.router.add_get(f"{control}/outcomes", _control_outcomes)
    app.router.add_put(f"{control}/outcomes/{{name}}", _control_set_outcome)
    app.router.add_delete(f"{control}/outcomes/{{name}}", _control_clear_outcome)
    app.router.add_get(f"{control}/boot-seconds", _control_boot_seconds)
    app.router.add_put(f"{control}/boot-seconds", _control_set_boot_seconds)
    app.router.add_put(f"{control}/keys", _control_set_keys)
    app.router.add_get(f"{control}/faults", _control_faults)
    app.router.add_post(f"{control}/faults", _control_add_fault)
    app.router.add_delete(f"{control}/faults", _control_clear_faults)
    app.router.add_delete(f"{control}/faults/{{rule_id}}", _control_remove_fault)

    app.router.add_get("/", _index_page)
    app.router.add_get("/workspaces/{item_id}", _dashboard_page)
    app.router.add_get("/desktops/{instance_id}", _desktop_page)
    return app


def error_body(message: str, *, request_id: str, **extra: Any) -> dict[str, Any]:
    return {"error": message, "request_id": request_id, **extra}


class AccessLogger(AbstractAccessLogger):
    """One sentence per request; a dropped or hung request is not logged as answered."""

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        milliseconds = time * 1000
        if isinstance(response, _NeverSent):
            self.logger.info(
                "%s %s got no answer after %.0f ms: a fault closed the connection.",
                request.method,
                request.path,
                milliseconds,
            )
            return
        self.logger.info(
            "%s %s answered %d in %.0f ms.",
            request.method,
            request.path,
            response.status,
            milliseconds,
        )


class _NeverSent(web.Response):
    """Ends the handler of a request whose connection a fault already closed."""


# The request pipeline: record, pick a fault, answer.


@web.middleware
async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = str(uuid.uuid4())
    if request.path != API_PREFIX and not request.path.startswith(f"{API_PREFIX}/"):
        return await _answer_plainly(request, handler, request_id=request_id)

    state = request.app[STATE_KEY]
    body = await _read_body(request)
    record = state.record_request(
        method=request.method,
        path=request.path,
        body=None if body is _INVALID_JSON else body,
    )

    endpoint = _ROUTE_ENDPOINTS.get(request.match_info.route.name or "")
    rule = state.faults.pick(
        endpoint=endpoint, computer_name=_computer_name(request, state=state, body=body)
    )
    if rule is not None:
        record.fault = rule.describe()
        record.fault_id = rule.id
        logger.info(
            "Fault rule #%d (%s) hits %s %s.",
            rule.id,
            rule.describe(),
            request.method,
            request.path,
        )

    response = await _answer_with_fault(request, handler, rule=rule, request_id=request_id)
    record.status = None if response is None else response.status
    return _NeverSent() if response is None else response


async def _answer_with_fault(
    request: web.Request,
    handler: Handler,
    *,
    rule: fault_rules.FaultRule | None,
    request_id: str,
) -> web.StreamResponse | None:
    """The response the client gets, or None when the connection is dropped."""
    if rule is None:
        return await _answer_plainly(request, handler, request_id=request_id)
    if rule.latency:
        await _pause(request, seconds=rule.latency)

    mode = rule.answer_mode
    if mode == fault_rules.MODE_HANG:
        await _wait_for_client_to_leave(request)
        _drop_connection(request)
        return None
    if mode == fault_rules.MODE_DROP_AFTER_COMMIT:
        await _answer_plainly(request, handler, request_id=request_id)
        _drop_connection(request)
        return None

    status = rule.status or fault_rules.DEFAULT_BROKEN_BODY_STATUS
    if mode == fault_rules.MODE_LATENCY:
        response = await _answer_plainly(request, handler, request_id=request_id)
    elif mode == fault_rules.MODE_MALFORMED:
        response = web.Response(
            status=status,
            text=_truncated_json(request_id=request_id),
            content_type="application/json",
        )
    elif mode == fault_rules.MODE_NON_JSON:
        response = web.Response(
            status=status, text=_foreign_page(status=status), content_type="text/html"
        )
    else:
        if rule.has_body:
            body = rule.body
        else:
            body = error_body(
                f"Simulated fault #{rule.id}: the API answers {status}.", request_id=request_id
            )
        response = web.json_response(body, status=status)

    if rule.retry_after is not None:
        response.headers["Retry-After"] = f"{rule.retry_after:g}"
    return response


async def _answer_plainly(
    request: web.Request, handler: Handler, *, request_id: str
) -> web.StreamResponse:
    """Run the real handler and turn every failure into a JSON error body."""
    try:
        return await handler(request)
    except ApiError as error:
        return web.json_response(
            error_body(error.message, request_id=request_id, **error.extra), status=error.status
        )
    except fault_rules.InvalidFaultRule as error:
        return web.json_response(error_body(str(error), request_id=request_id), status=400)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        message = f"{error.reason}: {request.method} {request.path}."
        allow = error.headers.get("Allow")
        return web.json_response(
            error_body(message, request_id=request_id),
            status=error.status,
            headers={"Allow": allow} if allow else None,
        )


async def _read_body(request: web.Request) -> Any:
    """The parsed JSON body, None when there is none, `_INVALID_JSON` when unreadable."""
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return _INVALID_JSON


async def _json_object(request: web.Request) -> Any:
    # aiohttp keeps the body it read for the request log, so this reads no socket.
    body = await _read_body(request)
    if body is _INVALID_JSON:
        raise BadRequest("Request body is not valid JSON.")
    return body


def _computer_name(request: web.Request, *, state: SimulatorState, body: Any) -> str | None:
    """The name of the computer a request is about, for rules limited by name."""
    if request.match_info.route.name == "create":
        name = body.get("name") if isinstance(body, dict) else None
        return name if isinstance(name, str) else None
    computer_id = request.match_info.get("computer_id")
    computer = state.find_computer(computer_id) if computer_id else None
    return computer.name if computer else None


async def _pause(request: web.Request, *, seconds: float) -> None:
    # A stopping server does not wait out the latency of the requests in flight.
    try:
        await asyncio.wait_for(request.app[CLOSING_KEY].wait(), timeout=seconds)
    except TimeoutError:
        pass


async def _wait_for_client_to_leave(request: web.Request) -> None:
    closing = request.app[CLOSING_KEY]
    while not closing.is_set():
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        await _pause(request, seconds=HANG_POLL_SECONDS)


def _drop_connection(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.close()


async def _release_waiting_requests(app: web.Application) -> None:
    app[CLOSING_KEY].set()


def _truncated_json(*, request_id: str) -> str:
    whole = json.dumps({"id": str(uuid.uuid4()), "status": "starting", "request_id": request_id})
    return whole[: len(whole) // 2]


def _foreign_page(*, status: int) -> str:
    return (
        "<!DOCTYPE html><html><head><title>Gateway page</title></head><body>"
        f"<h1>{status}</h1><p>This page came from something in front of the API.</p>"
        "</body></html>"
    )


# API handlers.


def _state(request: web.Request) -> SimulatorState:
    return request.app[STATE_KEY]


def _authenticate(request: web.Request) -> ApiKey:
    return _state(request).authenticate(request.headers.get("Authorization"))


def _site_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _computer_response(
    request: web.Request, computer: Computer, *, status: int = 200
) -> web.Response:
    data = _state(request).computer_json(computer, site_url=_site_url(request))
    return web.json_response(data, status=status)


async def _create_computer(request: web.Request) -> web.StreamResponse:
    key = _authenticate(request)
    state = _state(request)
    computer = state.create_computer(key=key, body=await _json_object(request))
    logger.info(
        "Created computer '%s' (%s) in workspace %s; it will finish booting in %g seconds.",
        computer.name,
        computer.id,
        computer.workspace_id,
        computer.boot_seconds,
    )
    return _computer_response(request, computer, status=201)


async def _get_computer(request: web.Request) -> web.StreamResponse:
    key = _authenticate(request)
    computer_id = request.match_info["computer_id"]
    computer = _state(request).get_computer(key=key, computer_id=computer_id)
    return _computer_response(request, computer)


async def _delete_computer(request: web.Request) -> web.StreamResponse:
    key = _authenticate(request)
    computer_id = request.match_info["computer_id"]
    computer = _state(request).delete_computer(key=key, computer_id=computer_id)
    logger.info("Deleted computer '%s' (%s) on request.", computer.name, computer.id)
    return web.json_response({"success": True})


async def _start_computer(request: web.Request) -> web.StreamResponse:
    key = _authenticate(request)
    computer_id = request.match_info["computer_id"]
    computer = _state(request).start_computer(key=key, computer_id=computer_id)
    logger.info("Computer '%s' (%s) was asked to start.", computer.name, computer.id)
    return web.json_response({"success": True, "status": "starting"})


async def _stop_computer(request: web.Request) -> web.StreamResponse:
    key = _authenticate(request)
    computer_id = request.match_info["computer_id"]
    computer = _state(request).stop_computer(key=key, computer_id=computer_id)
    logger.info("Computer '%s' (%s) was asked to stop.", computer.name, computer.id)
    return web.json_response({"success": True, "status": "stopping"})


async def _restart_computer(request: web.Request) -> web.StreamResponse:
    key = _authenticate(request)
    computer_id = request.match_info["computer_id"]
    computer = _state(request).restart_computer(key=key, computer_id=computer_id)
    logger.info(
        "Computer '%s' (%s) was asked to restart; its VNC password is now a new one.",
        computer.name,
        computer.id,
    )
    return web.json_response({"success": True, "status": "restarting"})


async def _resize_computer(request: web.Request) -> web.StreamResponse:
    key = _authenticate(request)
    state = _state(request)
    computer = state.resize_computer(
        key=key, computer_id=request.match_info["computer_id"], body=await _json_object(request)
    )
    logger.info(
        "Resized computer '%s' (%s) to %d vCPUs, %d GB RAM and %d GB disk.",
        computer.name,
        computer.id,
        computer.cpu,
        computer.ram,
        computer.disk_size_gb,
    )
    data = state.computer_json(computer, site_url=_site_url(request))
    return web.json_response({"success": True, "computer": data})


async def _list_workspaces(request: web.Request) -> web.StreamResponse:
    key = _authenticate(request)
    state = _state(request)
    summaries = [state.workspace_summary_json(w) for w in state.workspaces_for(key)]
    return web.json_response({"workspaces": summaries})


async def _list_projects(request: web.Request) -> web.StreamResponse:
    key = _authenticate(request)
    state = _state(request)
    summaries = [state.workspace_summary_json(w) for w in state.workspaces_for(key)]
    return web.json_response({"projects": summaries, "workspaces": summaries})


async def _get_workspace(request: web.Request) -> web.StreamResponse:
    return _workspace_response(request, computers_key="computers")


async def _get_project(request: web.Request) -> web.StreamResponse:
    return _workspace_response(request, computers_key="desktops")


def _workspace_response(request: web.Request, *, computers_key: str) -> web.Response:
    key = _authenticate(request)
    state = _state(request)
    workspace = state.get_workspace(key=key, workspace_id=request.match_info["workspace_id"])
    data = state.workspace_json(
        workspace, site_url=_site_url(request), computers_key=computers_key
    )
    return web.json_response(data)


# Control handlers.


async def _control_body(request: web.Request) -> Any:
    if not request.can_read_body:
        return None
    try:
        return await request.json()
    except ValueError:
        raise BadRequest("Request body is not valid JSON.") from None


async def _control_object(request: web.Request) -> dict[str, Any]:
    body = await _control_body(request)
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object.")
    return body


async def _control_computers(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    site_url = _site_url(request)
    computers = [state.computer_json(c, site_url=site_url) for c in state.all_computers()]
    return web.json_response({"computers": computers})


async def _control_force_status(request: web.Request) -> web.StreamResponse:
    body = await _control_object(request)
    status = body.get("status")
    message = body.get("message")
    if not isinstance(status, str) or not status:
        raise BadRequest(f"Field 'status' must be a non-empty string; got {status!r}.")
    if message is not None and not isinstance(message, str):
        raise BadRequest(f"Field 'message' must be a string; got {message!r}.")
    computer = _state(request).force_status(
        computer_id=request.match_info["computer_id"], status=status, message=message
    )
    logger.info("Forced computer '%s' (%s) into status %s.", computer.name, computer.id, status)
    return _computer_response(request, computer)


async def _control_requests(request: web.Request) -> web.StreamResponse:
    records = [record.to_json() for record in _state(request).requests]
    return web.json_response({"requests": records})


async def _control_clear_requests(request: web.Request) -> web.StreamResponse:
    _state(request).clear_requests()
    return web.json_response({"success": True})


async def _control_reset(request: web.Request) -> web.StreamResponse:
    _state(request).reset()
    logger.info("Reset: computers, requests, outcomes and faults are forgotten.")
    return web.json_response({"success": True})


async def _control_workspaces(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    summaries = [state.workspace_summary_json(w) for w in state.all_workspaces()]
    return web.json_response({"workspaces": summaries})


async def _control_add_workspace(request: web.Request) -> web.StreamResponse:
    body = await _control_object(request)
    name = body.get("name")
    workspace_id = body.get("id")
    if not isinstance(name, str) or not name:
        raise BadRequest(f"Field 'name' must be a non-empty string; got {name!r}.")
    if workspace_id is not None and (not isinstance(workspace_id, str) or not workspace_id):
        raise BadRequest(f"Field 'id' must be a non-empty string; got {workspace_id!r}.")
    state = _state(request)
    workspace = state.add_workspace(name=name, workspace_id=workspace_id)
    logger.info("Added workspace '%s' (%s).", workspace.name, workspace.id)
    return web.json_response(state.workspace_summary_json(workspace), status=201)


def _outcome_json(name: str, outcome: Outcome) -> dict[str, Any]:
    return {"name": name, "status": outcome.status, "message": outcome.message}


async def _control_outcomes(request: web.Request) -> web.StreamResponse:
    outcomes = [_outcome_json(n, o) for n, o in _state(request).outcomes.items()]
    return web.json_response({"outcomes": outcomes})


async def _control_set_outcome(request: web.Request) -> web.StreamResponse:
    body = await _control_object(request)
    status = body.get("status")
    message = body.get("message")
    if not isinstance(status, str) or not status:
        raise BadRequest(f"Field 'status' must be a non-empty string; got {status!r}.")
    if message is not None and not isinstance(message, str):
        raise BadRequest(f"Field 'message' must be a string; got {message!r}.")
    name = request.match_info["name"]
    outcome = Outcome(status=status, message=message)
    _state(request).set_outcome(name=name, outcome=outcome)
    logger.info("Computers named '%s' will end their boots in status %s.", name, status)
    return web.json_response(_outcome_json(name, outcome))


async def _control_clear_outcome(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    removed = _state(request).clear_outcome(name)
    if removed:
        logger.info("Computers named '%s' will boot normally again.", name)
    return web.json_response({"success": True, "removed": removed})


async def _control_boot_seconds(request: web.Request) -> web.StreamResponse:
    return web.json_response({"seconds": _state(request).boot_seconds})


async def _control_set_boot_seconds(request: web.Request) -> web.StreamResponse:
    body = await _control_object(request)
    seconds = body.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise BadRequest(f"Field 'seconds' must be a number of at least 0; got {seconds!r}.")
    _state(request).boot_seconds = float(seconds)
    logger.info("Computers created from now on will boot in %g seconds.", seconds)
    return web.json_response({"seconds": float(seconds)})


async def _control_set_keys(request: web.Request) -> web.StreamResponse:
    body = await _control_object(request)
    keys = body.get("keys")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise BadRequest("Field 'keys' must be a list of strings, each KEY or KEY@WORKSPACE_ID.")
    state = _state(request)
    try:
        state.replace_keys(keys)
    except ValueError as error:
        raise BadRequest(str(error)) from None
    logger.info("The accepted API keys were replaced; %d key(s) are accepted now.", len(keys))
    return web.json_response({"success": True, "key_count": len(state.keys)})


async def _control_faults(request: web.Request) -> web.StreamResponse:
    rules = [rule.to_json() for rule in _state(request).faults.rules]
    return web.json_response({"faults": rules})


async def _control_add_fault(request: web.Request) -> web.StreamResponse:
    body = await _control_body(request)
    rule = _state(request).faults.add(body)
    logger.info("Added fault rule %r.", rule)
    return web.json_response(rule.to_json(), status=201)


async def _control_clear_faults(request: web.Request) -> web.StreamResponse:
    _state(request).faults.clear()
    logger.info("Cleared every fault rule; the API answers normally again.")
    return web.json_response({"success": True})


async def _control_remove_fault(request: web.Request) -> web.StreamResponse:
    text = request.match_info["rule_id"]
    if not text.isdigit() or not _state(request).faults.remove(int(text)):
        raise NotFound(f"Fault rule {text} not found.")
    return web.json_response({"success": True})


# Dashboard pages: enough for a person following a computer's url to see it.


def _page(title: str, body: str, *, status: int = 200) -> web.Response:
    text = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return web.Response(text=text, content_type="text/html", status=status)


def _computer_rows(computers: list[Computer]) -> str:
    rows = "".join(
        f"<tr><td><a href='/workspaces/{html.escape(c.id)}'>{html.escape(c.name)}</a></td>"
        f"<td>{html.escape(c.status)}</td><td>{c.cpu} vCPU, {c.ram} GB</td></tr>"
        for c in computers
    )
    return f"<table><tr><th>name</th><th>status</th><th>size</th></tr>{rows}</table>"


async def _index_page(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    sections = "".join(
        f"<h2><a href='/workspaces/{html.escape(w.id)}'>{html.escape(w.name)}</a></h2>"
        + _computer_rows(state.computers_in(w.id))
        for w in state.all_workspaces()
    )
    api_base = html.escape(f"{_site_url(request)}{API_PREFIX}")
    return _page("Orgo simulator", f"<p>API base: {api_base}</p>{sections}")


async def _dashboard_page(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    item_id = request.match_info["item_id"]
    computer = state.find_computer(item_id)
    if computer is not None:
        facts = (
            f"<p>Status: {html.escape(computer.status)}</p>"
            f"<p>{computer.cpu} vCPU, {computer.ram} GB RAM, {computer.disk_size_gb} GB disk,"
            f" {html.escape(computer.resolution)}</p>"
        )
        return _page(f"Computer {computer.name}", facts)
    for workspace in state.all_workspaces():
        if workspace.id == item_id:
            return _page(f"Workspace {workspace.name}", _computer_rows(state.computers_in(item_id)))
    return _page("Not found", "<p>No computer or workspace has this id.</p>", status=404)


async def _desktop_page(request: web.Request) -> web.StreamResponse:
    instance_id = html.escape(request.match_info["instance_id"])
    return _page(
        f"Desktop {instance_id}",
        "<p>The simulator has no desktop to stream; this page stands in for it.</p>",
    )
