"""
The operator's Prometheus metrics, served over HTTP when a metrics port is set.

    orgo_operator_reconciles_total{outcome}                 converge steps, by Ready reason
    orgo_operator_orgo_requests_total{endpoint,code}        Orgo API requests, by answer
    orgo_operator_orgo_request_duration_seconds{endpoint}   how long those requests took
    orgo_operator_computers{phase}                          watched resources, by computer phase

Each operator process has one `Metrics`, with a registry of its own (plus the process and
Python collectors), so tests and a second operator in one interpreter never share counts.
"""
from __future__ import annotations

import collections
import dataclasses
import threading
import wsgiref.simple_server
from collections.abc import Iterator, Mapping
from typing import Any

import prometheus_client
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import CollectorRegistry

from orgo_operator.reconcile.conditions import READY

PREFIX = "orgo_operator"

# A converge step that raised instead of writing a status.
OUTCOME_UNEXPECTED_ERROR = "UnexpectedError"
# A status without a Ready condition: not written by this operator version.
OUTCOME_UNKNOWN = "Unknown"
# The Orgo request got no HTTP answer at all (a timeout, a refused connection).
CODE_NO_ANSWER = "none"

# From a quick answer on a local network up to the default 15 s request timeout and beyond.
REQUEST_DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0)


@dataclasses.dataclass(frozen=True)
class MetricsServer:
    """The HTTP server that serves /metrics from a thread of its own."""

    server: wsgiref.simple_server.WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class Metrics:
    """What the operator counts; the handlers and the Orgo client report into it."""

    def __init__(self, *, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or _process_registry()
        self._reconciles = prometheus_client.Counter(
            f"{PREFIX}_reconciles", "Converge steps taken, by the Ready reason they ended with.",
            ["outcome"], registry=self.registry)
        self._requests = prometheus_client.Counter(
            f"{PREFIX}_orgo_requests",
            "Requests sent to the Orgo API, by endpoint and HTTP status code "
            f"('{CODE_NO_ANSWER}' when no answer came).",
            ["endpoint", "code"], registry=self.registry)
        self._latency = prometheus_client.Histogram(
            f"{PREFIX}_orgo_request_duration_seconds",
            "Seconds from sending a request to the Orgo API until its answer or failure.",
            ["endpoint"], buckets=REQUEST_DURATION_BUCKETS, registry=self.registry)

        # Phases are read by the scrape thread while the event loop writes them.
        self._phases: dict[tuple[str, str], str] = {}
        self._phases_lock = threading.Lock()
        self.registry.register(_PhaseCollector(self))

    def __repr__(self) -> str:
        return f"Metrics(computers={len(self._phases)})"

    def reconciled(self, *, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        """Count a converge step by the status it wrote, and remember the computer's phase."""
        self._reconciles.labels(outcome=_ready_reason(status)).inc()
        phase = status.get("phase")
        with self._phases_lock:
            if phase:
                self._phases[(namespace, name)] = str(phase)
            else:
                # No computer (yet): an invalid spec, a refused create, a conflict.
                self._phases.pop((namespace, name), None)

    def reconcile_failed(self) -> None:
        self._reconciles.labels(outcome=OUTCOME_UNEXPECTED_ERROR).inc()

    def forget(self, *, namespace: str, name: str) -> None:
        """Stop counting a resource: it is deleted, or this replica no longer watches it."""
        with self._phases_lock:
            self._phases.pop((namespace, name), None)

    def observe_request(self, endpoint: str, status_code: int | None, seconds: float) -> None:
        """The Orgo client's request observer."""
        code = CODE_NO_ANSWER if status_code is None else str(status_code)
        self._requests.labels(endpoint=endpoint, code=code).inc()
        self._latency.labels(endpoint=endpoint).observe(seconds)

    def phase_counts(self) -> collections.Counter[str]:
        with self._phases_lock:
            return collections.Counter(self._phases.values())

    def serve(self, *, port: int, address: str) -> MetricsServer:
        """Serve /metrics on the address and port (0 picks a free port), until closed."""
        server, thread = prometheus_client.start_http_server(port, addr=address,
                                                             registry=self.registry)
        return MetricsServer(server=server, thread=thread)


class _PhaseCollector:
    """Counts the resources by phase at scrape time, so a forgotten one simply disappears."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            f"{PREFIX}_computers",
            "OrgoComputer resources this replica reconciles, by their computer's phase.",
            labels=["phase"])
        for phase, count in sorted(self._metrics.phase_counts().items()):
            family.add_metric([phase], count)
        yield family


def _process_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    prometheus_client.ProcessCollector(registry=registry)
    prometheus_client.PlatformCollector(registry=registry)
    prometheus_client.GCCollector(registry=registry)
    return registry


def _ready_reason(status: Mapping[str, Any]) -> str:
    for condition in status.get("conditions") or ():
        if condition.get("type") == READY:
            return str(condition.get("reason") or OUTCOME_UNKNOWN)
    return OUTCOME_UNKNOWN
