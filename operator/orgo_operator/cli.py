"""
The `orgo-operator` command: run the operator with kopf's flags and the operator's settings.

    ORGO_API_KEY=sk_... orgo-operator run --all-namespaces
    orgo-operator run --namespace team-a --namespace team-b --log-format json

Every Orgo setting is an environment variable (see the README); the flags choose what to
watch and how to log, as `kopf run` does.
"""
from __future__ import annotations

import asyncio
import sys

import click
import kopf

from orgo_operator import __version__
from orgo_operator.settings import Settings, SettingsError

LOG_FORMATS = {"plain": kopf.LogFormat.PLAIN, "full": kopf.LogFormat.FULL,
               "json": kopf.LogFormat.JSON}


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
@click.option("--priority", type=int, default=0, envvar="ORGO_PRIORITY", show_default=True,
              help="This replica's priority among peers; the highest one works.")
@click.option("--liveness", "liveness_endpoint", metavar="URL", envvar="ORGO_LIVENESS_URL",
              help="Serve the health probe here, e.g. http://0.0.0.0:8080/healthz.")
@click.option("--log-format", type=click.Choice(sorted(LOG_FORMATS)), default="plain",
              envvar="ORGO_LOG_FORMAT", show_default=True, help="How log lines look.")
@click.option("-v", "--verbose", is_flag=True, help="Log more, including kopf's own steps.")
@click.option("-d", "--debug", is_flag=True, help="Log everything, for debugging.")
@click.option("-q", "--quiet", is_flag=True, help="Log warnings and errors only.")
def run(namespaces: tuple[str, ...], all_namespaces: bool, standalone: bool, peering_name: str,
        priority: int, liveness_endpoint: str | None, log_format: str, verbose: bool,
        debug: bool, quiet: bool) -> None:
    """Run the operator until interrupted."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    if namespaces and all_namespaces:
        raise click.UsageError("Use either --namespace or --all-namespaces, not both.")

    watched = namespaces or settings.namespaces
    kopf.configure(verbose=verbose, debug=debug, quiet=quiet,
                   log_format=LOG_FORMATS[log_format], log_refkey="resource")
    asyncio.run(kopf.operator(
        clusterwide=not watched,
        namespaces=list(watched),
        standalone=standalone,
        # kopf takes any peering name as "peering is mandatory": pass one only when wanted.
        peering_name=None if standalone else peering_name,
        priority=priority,
        liveness_endpoint=liveness_endpoint,
        memo=kopf.Memo(settings=settings),
    ))


def _import_handlers() -> None:
    # Importing registers the handlers with kopf's default registry.
    import orgo_operator.handlers  # noqa: F401


_import_handlers()

if __name__ == "__main__":
    sys.exit(main())
