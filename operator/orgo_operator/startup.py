"""
What the operator builds once before it watches anything: the Kubernetes client, the Orgo
client, and, when a port is set, the metrics server.

`orgo-operator run` prepares all of it before kopf starts, so that a missing kubeconfig or a
taken port ends the command with one line. Under `kopf run -m orgo_operator.handlers` the
start-up handler prepares it instead; kopf then reports a failure with a traceback of its own.
"""
from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

import kopf

from orgo_operator.kube import KubeApi
from orgo_operator.metrics import Metrics
from orgo_operator.orgo import OrgoClient
from orgo_operator.settings import Settings


def prepare(*, memo: MutableMapping[str, Any], settings: Settings,
            logger: logging.Logger) -> None:
    """
    Put `kube`, `metrics`, `orgo` and, with a metrics port, `metrics_server` into the memo.

    What the memo holds already is kept, so preparing twice (before kopf, then in the start-up
    handler, or in a start-up handler that kopf retries) builds each thing once. A failure is
    a `kopf.PermanentError` that says what to fix: no retry would fix it.
    """
    if "kube" not in memo:
        memo["kube"] = KubeApi.from_environment()
    if "metrics" not in memo:
        memo["metrics"] = Metrics()
    if "orgo" not in memo:
        memo["orgo"] = OrgoClient(base_url=settings.api_url, api_key=settings.current_api_key,
                                  timeout=settings.request_timeout,
                                  observer=memo["metrics"].observe_request)

    # The port is taken last: a start that failed on a client before must not hold it then.
    if settings.metrics_port is not None and "metrics_server" not in memo:
        where = f"{settings.metrics_address}:{settings.metrics_port}"
        try:
            memo["metrics_server"] = memo["metrics"].serve(port=settings.metrics_port,
                                                           address=settings.metrics_address)
        except OSError as exc:
            raise kopf.PermanentError(
                f"Cannot serve metrics on {where}: {exc.strerror or exc}. Stop what holds the "
                "port, or choose another with --metrics-port or ORGO_METRICS_PORT."
            ) from None
        logger.info(f"Serving Prometheus metrics at http://{where}/metrics.")
