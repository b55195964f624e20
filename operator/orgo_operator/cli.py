"""
The `orgo-operator` command: run the operator with kopf's flags and the operator's settings.

    ORGO_API_KEY=sk_... orgo-operator run --all-namespaces
    orgo-operator run --namespace team-a --namespace team-b --log-format json
    orgo-operator run -A --peering --priority auto --metrics-port 9090    # as the chart runs it

Every Orgo setting is an environment variable (see the README); the flags choose what to
watch and how to log, as `kopf run` does.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import sys
import time
from typing import Any

import click
import kopf

from orgo_operator import __version__, startup
from orgo_operator.settings import HIGHEST_PORT, Settings, SettingsError

JSON_FORMAT = "json"
LOG_FORMATS = {"plain": kopf.LogFormat.PLAIN, "full": kopf.LogFormat.FULL,
               JSON_FORMAT: kopf.LogFormat.JSON}
# The key under which a JSON log line names its resource: `[namespace/name]` in text lines.
LOG_REFKEY = "resource"

AUTO_PRIORITY = "auto"
# Replicas started in the same millisecond are told apart by a random part this large.
AUTO_PRIORITY_TIEBREAK = 1000

logger = logging.getLogger(__name__)


class PriorityType(click.ParamType):
    """A whole number, or `auto` for a priority taken from the start time."""

    name = "N|auto"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int | str:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if text == AUTO_PRIORITY:
            return AUTO_PRIORITY
        try:
            return int(text)
        except ValueError:
            self.fail(f"{value!r} is neither a whole number nor {AUTO_PRIORITY!r}.", param, ctx)


def start_time_priority(*, started: float, tiebreak: int) -> int:
    """
    A priority that is lower the later a replica started, so the oldest one reconciles.

    kopf pauses every replica when two share the highest priority, and hands the work to a
    newcomer with a higher one at once. Falling with the start time, a rolling update's new
    pod waits as a standby until the old pod stops and gives up its peering record.

    >>> start_time_priority(started=2.0, tiebreak=0) < start_time_priority(started=1.0, tiebreak=0)
    True
    """
    return -(int(started * 1000) * AUTO_PRIORITY_TIEBREAK + tiebreak)


@click.group()
@click.version_option(__version__, prog_name="orgo-operator")
def main() -> None:
    """Run Orgo computers as OrgoComputer resources in Kubernetes."""


@main.command()
@click.option("-n", "--namespace", "namespaces", multiple=True, metavar="NAMESPACE",
              help="Watch this namespace (repeatable; globs like team-* work). "
                   "Default: ORGO_WATCH_NAMESPACES, else all namespaces.")
@click.option("-A", "--all-namespaces", is_flag=True, help="Watch all namespaces.")
@click.option("--standalone/--peering", default=True, show_default=True,
              help="Run alone, or coordinate with other replicas through a kopf peering "
                   "object so that only one of them reconciles at a time.")
@click.option("--peering-name", default="orgo-operator", show_default=True,
              envvar="ORGO_PEERING_NAME", help="The peering object's name, with --peering.")
@click.option("--priority", type=PriorityType(), default=0, envvar="ORGO_PRIORITY",
              show_default=True,
              help="This replica's priority among peers; the highest one works. "
                   "'auto': the replica that started first works, the later ones stand by.")
@click.option("--liveness", "liveness_endpoint", metavar="URL", envvar="ORGO_LIVENESS_URL",
              help="Serve the health probe here, e.g. http://0.0.0.0:8080/healthz.")
@click.option("--metrics-port", type=click.IntRange(1, HIGHEST_PORT), metavar="PORT",
              help="Serve Prometheus metrics on this port at /metrics. "
                   "Default: ORGO_METRICS_PORT, else no metrics.")
@click.option("--log-format", type=click.Choice(sorted(LOG_FORMATS)), default="plain",
              envvar="ORGO_LOG_FORMAT", show_default=True, help="How log lines look.")
@click.option("-v", "--verbose", is_flag=True, help="Log more, including kopf's own steps.")
@click.option("-d", "--debug", is_flag=True, help="Log everything, for debugging.")
@click.option("-q", "--quiet", is_flag=True, help="Log warnings and errors only.")
def run(namespaces: tuple[str, ...], all_namespaces: bool, standalone: bool, peering_name: str,
        priority: int | str, liveness_endpoint: str | None, metrics_port: int | None,
        log_format: str, verbose: bool, debug: bool, quiet: bool) -> None:
    """Run the operator until interrupted."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    if namespaces and all_namespaces:
        raise click.UsageError("Use either --namespace or --all-namespaces, not both.")
    if metrics_port is not None:
        settings = dataclasses.replace(settings, metrics_port=metrics_port)

    watched = namespaces or settings.namespaces
    configure_logging(log_format=log_format, verbose=verbose, debug=debug, quiet=quiet)

    # What fails at start-up for want of a kubeconfig or a free port fails here, in one line:
    # from kopf's start-up handler it would end in kopf's traceback and its warnings about
    # coroutines never awaited, which kopf creates before any handler runs.
    memo = kopf.Memo(settings=settings)
    try:
        startup.prepare(memo=memo, settings=settings, logger=logger)
    except kopf.PermanentError as exc:
        raise click.ClickException(str(exc)) from None

    if priority == AUTO_PRIORITY:
        priority = start_time_priority(started=time.time(),
                                       tiebreak=random.randrange(AUTO_PRIORITY_TIEBREAK))
        if not standalone:
            logger.info(f"Peering with priority {priority}: the replica that started first "
                        "works, and this one stands by while an older one is alive.")
    asyncio.run(kopf.operator(
        clusterwide=not watched,
        namespaces=list(watched),
        standalone=standalone,
        # kopf takes any peering name as "peering is mandatory": pass one only when wanted.
        peering_name=None if standalone else peering_name,
        priority=priority,
        liveness_endpoint=liveness_endpoint,
        memo=memo,
    ))


def configure_logging(*, log_format: str, verbose: bool, debug: bool, quiet: bool) -> None:
    """Log as `kopf run` does: plain and full lines start with the resource they are about."""
    # A JSON line carries the resource under its own key; a text line has only its prefix.
    kopf.configure(verbose=verbose, debug=debug, quiet=quiet,
                   log_format=LOG_FORMATS[log_format], log_refkey=LOG_REFKEY,
                   log_prefix=log_format != JSON_FORMAT)


def _import_handlers() -> None:
    # Importing registers the handlers with kopf's default registry.
    import orgo_operator.handlers  # noqa: F401


_import_handlers()

if __name__ == "__main__":
    sys.exit(main())
