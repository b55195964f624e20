"""The Orgo client's reading of answers, over httpx's in-memory transport."""
from __future__ import annotations

import httpx
import pytest

from orgo_operator.orgo import OrgoAPIError, OrgoClient, OrgoResponseError, OrgoTransportError
from orgo_operator.orgo.client import parse_retry_after


def client(handler) -> OrgoClient:
    return OrgoClient(base_url="https://orgo.example/api", api_key=lambda: "sk_test_k",
                      transport=httpx.MockTransport(handler))


async def test_requests_carry_the_key_and_json():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["auth"] = request.headers["authorization"]
        seen["url"] = str(request.url)
        return httpx.Response(201, json={"id": "c1", "name": "a", "status": "starting",
                                         "url": "u", "vnc_password": "hunter2"})

    async with client(handler) as orgo:
        computer = await orgo.create_computer({"name": "a"})
    assert seen == {"auth": "Bearer sk_test_k", "url": "https://orgo.example/api/computers"}
    assert computer.id == "c1" and computer.status == "starting"
    assert "hunter2" not in repr(computer)


async def test_an_error_body_becomes_an_api_error():
    def handler(request):
        return httpx.Response(429, headers={"Retry-After": "12"},
                              json={"error": "slow down", "request_id": "r-1"})

    async with client(handler) as orgo:
        with pytest.raises(OrgoAPIError) as caught:
            await orgo.get_computer("c1")
    assert caught.value.status_code == 429
    assert caught.value.retry_after == 12
    assert caught.value.request_id == "r-1"
    assert "slow down" in str(caught.value)


async def test_a_non_json_answer_is_a_response_error():
    def handler(request):
        return httpx.Response(200, text="<html>maintenance</html>",
                              headers={"content-type": "text/html"})

    async with client(handler) as orgo:
        with pytest.raises(OrgoResponseError, match="text/html"):
            await orgo.get_computer("c1")


async def test_a_json_answer_without_an_id_is_a_response_error():
    async with client(lambda request: httpx.Response(200, json=["x"])) as orgo:
        with pytest.raises(OrgoResponseError):
            await orgo.get_computer("c1")


async def test_no_answer_is_a_transport_error():
    def handler(request):
        raise httpx.ConnectError("refused")

    async with client(handler) as orgo:
        with pytest.raises(OrgoTransportError, match="refused"):
            await orgo.delete_computer("c1")


async def test_the_workspace_lists_computers_under_either_key():
    def handler(request):
        return httpx.Response(200, json={"id": "w", "name": "n", "desktops": [
            {"id": "c1", "name": "a", "status": "running"}]})

    async with client(handler) as orgo:
        workspace = await orgo.get_workspace("w")
    assert workspace.find("a").id == "c1"
    assert workspace.find("b") is None


def test_retry_after_reads_seconds_and_dates():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480) == 10.0


def test_the_client_repr_hides_the_key():
    orgo = OrgoClient(base_url="https://orgo.example/api", api_key=lambda: "sk_test_hidden")
    assert "sk_test_hidden" not in repr(orgo)


@pytest.mark.parametrize(("given", "sent"), [
    ("../computers", "..%2Fcomputers"),
    ("x?y=1", "x%3Fy%3D1"),
    ("a#b c", "a%23b%20c"),
    ("..", "%2E%2E"),
    (".", "%2E"),
    ("ws-1", "ws-1"),
])
async def test_an_id_stays_one_segment_of_the_path(given, sent):
    paths = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append((request.method, request.url.raw_path.decode()))
        return httpx.Response(200, json={"id": "x", "name": "n", "status": "running"})

    async with client(handler) as orgo:
        await orgo.get_workspace(given)
        await orgo.get_computer(given)
        await orgo.delete_computer(given)
    assert paths == [("GET", f"/api/workspaces/{sent}"), ("GET", f"/api/computers/{sent}"),
                     ("DELETE", f"/api/computers/{sent}")]


async def test_an_empty_id_is_refused_before_any_request():
    def handler(request):
        raise AssertionError(f"no request should be sent, but {request.url} was")

    async with client(handler) as orgo:
        with pytest.raises(ValueError, match="empty id"):
            await orgo.delete_computer("")
