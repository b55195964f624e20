"""The operator's Prometheus metrics: what each report counts, and what a scrape shows."""
from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from orgo_operator.metrics import CODE_NO_ANSWER, OUTCOME_UNEXPECTED_ERROR, Metrics


def status(reason: str, phase: str | None = None) -> dict:
    body: dict = {"conditions": [{"type": "Ready", "status": "False", "reason": reason}]}
    if phase:
        body["phase"] = phase
    return body


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_reconciles_are_counted_by_their_ready_reason():
    metrics = Metrics()
    metrics.reconciled(namespace="a", name="one", status=status("Booting", "starting"))
    metrics.reconciled(namespace="a", name="one", status=status("Booting", "starting"))
    metrics.reconciled(namespace="a", name="two", status=status("InvalidSpec"))
    metrics.reconcile_failed()

    assert value(metrics, "orgo_operator_reconciles_total", outcome="Booting") == 2
    assert value(metrics, "orgo_operator_reconciles_total", outcome="InvalidSpec") == 1
    assert value(metrics, "orgo_operator_reconciles_total",
                 outcome=OUTCOME_UNEXPECTED_ERROR) == 1
    assert value(metrics, "orgo_operator_reconciles_total", outcome="Unknown") is None


def test_a_status_without_ready_counts_as_unknown():
    metrics = Metrics()
    metrics.reconciled(namespace="a", name="one", status={})
    assert value(metrics, "orgo_operator_reconciles_total", outcome="Unknown") == 1


def test_requests_are_counted_by_endpoint_and_code_and_timed():
    metrics = Metrics()
    metrics.observe_request("create", 201, 0.2)
    metrics.observe_request("get", 200, 0.004)
    metrics.observe_request("get", None, 15.0)

    assert value(metrics, "orgo_operator_orgo_requests_total",
                 endpoint="create", code="201") == 1
    assert value(metrics, "orgo_operator_orgo_requests_total",
                 endpoint="get", code=CODE_NO_ANSWER) == 1
    assert value(metrics, "orgo_operator_orgo_request_duration_seconds_count",
                 endpoint="get") == 2
    assert value(metrics, "orgo_operator_orgo_request_duration_seconds_bucket",
                 endpoint="get", le="0.01") == 1
    assert value(metrics, "orgo_operator_orgo_request_duration_seconds_bucket",
                 endpoint="get", le="15.0") == 2


def test_computers_are_counted_by_their_latest_phase_until_forgotten():
    metrics = Metrics()
    metrics.reconciled(namespace="a", name="one", status=status("Booting", "starting"))
    metrics.reconciled(namespace="a", name="two", status=status("Booting", "starting"))
    metrics.reconciled(namespace="b", name="one", status=status("Running", "running"))
    assert value(metrics, "orgo_operator_computers", phase="starting") == 2

    metrics.reconciled(namespace="a", name="one", status=status("Running", "running"))
    metrics.forget(namespace="b", name="one")
    metrics.forget(namespace="b", name="never-seen")
    assert value(metrics, "orgo_operator_computers", phase="starting") == 1
    assert value(metrics, "orgo_operator_computers", phase="running") == 1

    # A resource whose computer is not (or no longer) known leaves the count.
    metrics.reconciled(namespace="a", name="two", status=status("CreateRejected"))
    assert value(metrics, "orgo_operator_computers", phase="starting") is None


def test_two_operators_in_one_process_keep_their_own_counts():
    first, second = Metrics(), Metrics()
    first.reconcile_failed()
    assert value(second, "orgo_operator_reconciles_total",
                 outcome=OUTCOME_UNEXPECTED_ERROR) is None


def test_the_server_serves_every_family_and_the_process_ones():
    metrics = Metrics()
    metrics.reconciled(namespace="a", name="one", status=status("Running", "running"))
    metrics.observe_request("create", 201, 0.1)
    server = metrics.serve(port=0, address="127.0.0.1")
    try:
        text = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5).text
    finally:
        server.close()

    families = {family.name for family in text_string_to_metric_families(text)}
    assert {"orgo_operator_reconciles", "orgo_operator_orgo_requests",
            "orgo_operator_orgo_request_duration_seconds", "orgo_operator_computers",
            "process_resident_memory_bytes", "python_info"} <= families
