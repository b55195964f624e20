"""
An async client for the parts of the Orgo API the operator uses.

    async with OrgoClient(base_url="https://www.orgo.ai/api", api_key=lambda: key) as orgo:
        computer = await orgo.create_computer({"workspace_id": ws, "name": "agent-1"})

Every call either returns parsed data or raises one of `orgo_operator.orgo.errors`; retrying
is the caller's decision, because only the caller knows what a retry would cost. An empty id
is the caller's bug, and a ValueError before any request.
"""
from __future__ import annotations

import email.utils
import json
import time
import urllib.parse
from collections.abc import Callable, Generator, Mapping
from typing import Any

import httpx

from orgo_operator.orgo.errors import (
    OrgoAPIError,
    OrgoError,
    OrgoResponseError,
    OrgoTransportError,
)
from orgo_operator.orgo.models import Computer, Workspace

DEFAULT_TIMEOUT = 15.0
USER_AGENT = "orgo-operator"
# Path segments that URL resolution would drop or climb, spelled so that it keeps them.
DOT_SEGMENTS = {".": "%2E", "..": "%2E%2E"}

# Called with (endpoint, status code or None for no answer, seconds taken) after each request.
RequestObserver = Callable[[str, int | None, float], None]


class BearerAuth(httpx.Auth):
    """Sends the key fetched anew for each request, so a rotated key is used at once."""

    def __init__(self, api_key: Callable[[], str]) -> None:
        self._api_key = api_key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._api_key()}"
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(<hidden>)"


class OrgoClient:
    def __init__(
            self,
            *,
            base_url: str,
            api_key: Callable[[], str],
            timeout: float = DEFAULT_TIMEOUT,
            observer: RequestObserver | None = None,
            transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._observer = observer
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/",
            auth=BearerAuth(api_key),
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"OrgoClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> OrgoClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def create_computer(self, body: Mapping[str, Any]) -> Computer:
        data = await self._request("POST", "computers", endpoint="create", json=dict(body))
        return Computer.from_json(_expect_object(data, endpoint="create", key="id"))

    async def get_computer(self, computer_id: str) -> Computer:
        data = await self._request("GET", _path("computers", computer_id), endpoint="get")
        return Computer.from_json(_expect_object(data, endpoint="get", key="id"))

    async def delete_computer(self, computer_id: str) -> None:
        await self._request("DELETE", _path("computers", computer_id), endpoint="delete")

    async def get_workspace(self, workspace_id: str) -> Workspace:
        data = await self._request("GET", _path("workspaces", workspace_id),
                                   endpoint="workspace")
        return Workspace.from_json(_expect_object(data, endpoint="workspace", key="id"))

    async def _request(self, method: str, path: str, *, endpoint: str, **kwargs: Any) -> Any:
        started = time.monotonic()
        status: int | None = None
        try:
            response = await self._http.request(method, path, **kwargs)
            status = response.status_code
        except httpx.TimeoutException as exc:
            raise OrgoTransportError(f"timed out ({type(exc).__name__})", endpoint=endpoint)
        except httpx.TransportError as exc:
            raise OrgoTransportError(_describe_transport_error(exc), endpoint=endpoint)
        finally:
            if self._observer is not None:
                self._observer(endpoint, status, time.monotonic() - started)

        if response.is_error:
            raise _api_error(response, endpoint=endpoint)
        if not response.content:
            return None
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            kind = response.headers.get("content-type", "no content type")
            raise OrgoResponseError(
                f"HTTP {response.status_code} with a body that is not JSON ({kind})",
                endpoint=endpoint,
            ) from None


def _path(*segments: str) -> str:
    """
    A relative URL path whose every segment stays one segment, whatever an id holds.

    >>> _path("workspaces", "../computers?all=1")
    'workspaces/..%2Fcomputers%3Fall%3D1'
    """
    # Ids come from users' specs: unescaped, "../computers" or "x?y=1" would name another
    # endpoint or add a query.
    quoted = [urllib.parse.quote(segment, safe="") for segment in segments]

    # quote() leaves dots alone, yet a segment of only "." or ".." is resolved away against the
    # base URL; an empty one would ask for the list endpoint instead of one item.
    if "" in quoted:
        raise ValueError(f"An empty id cannot name an Orgo object: {segments!r}.")
    return "/".join(DOT_SEGMENTS.get(segment, segment) for segment in quoted)


def _expect_object(data: Any, *, endpoint: str, key: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping) or key not in data:
        raise OrgoResponseError(f"expected a JSON object with {key!r}", endpoint=endpoint)
    return data


def _api_error(response: httpx.Response, *, endpoint: str) -> OrgoError:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, Mapping):
        body = {}
    message = str(body.get("error") or body.get("message") or response.reason_phrase or "")
    return OrgoAPIError(
        message or f"HTTP {response.status_code}",
        endpoint=endpoint,
        status_code=response.status_code,
        request_id=_optional_str(body.get("request_id")),
        code=_optional_str(body.get("code")),
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """
    Seconds to wait from a Retry-After header: either a number or an HTTP date.

    >>> parse_retry_after("7")
    7.0
    """
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def _describe_transport_error(exc: httpx.TransportError) -> str:
    detail = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {detail}"


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)
