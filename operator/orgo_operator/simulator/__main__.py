"""Run a simulated Orgo API on this machine, for tests and offline demos.

The API is served under /api, so point a client at http://HOST:PORT/api. Keys
go in the header 'Authorization: Bearer KEY'; a key written KEY@WORKSPACE_ID
reaches only that workspace. Without --api-key (or ORGO_SIMULATOR_API_KEYS,
comma separated, read only when no --api-key is given) the one accepted key is
sk_test_simulator. Without --workspace there is one workspace,
550e8400-e29b-41d4-a716-446655440000, named default.

Control endpoints without auth live under /_simulator: computers, requests,
reset, workspaces, outcomes/NAME, computers/ID/status, boot-seconds, keys and
faults. With --port 0 a free port is picked; --port-file receives the bound
port once the server listens. SIGINT or SIGTERM stops it cleanly.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import click
from aiohttp import web

from orgo_operator.simulator.app import API_PREFIX, AccessLogger, create_app
from orgo_operator.simulator.state import (
    DEFAULT_API_KEY,
    DEFAULT_BOOT_SECONDS,
    DEFAULT_WORKSPACE_ID,
    DEFAULT_WORKSPACE_NAME,
    ApiKey,
    SimulatorState,
)

logger = logging.getLogger("orgo_operator.simulator")

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8787
API_KEYS_ENV: Final = "ORGO_SIMULATOR_API_KEYS"
LOG_LEVELS: Final = ("debug", "info", "warning", "error")
LOG_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Requests still in flight at shutdown get this long; hung ones are released
# at once, so only a real handler could use it.
SHUTDOWN_TIMEOUT_SECONDS: Final = 2.0


@click.command(help=__doc__, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port to listen on; 0 picks a free one.",
)
@click.option(
    "--api-key",
    "api_keys",
    multiple=True,
    metavar="KEY[@WORKSPACE_ID]",
    help="An accepted API key; repeat for more.",
)
@click.option(
    "--workspace",
    "workspaces",
    multiple=True,
    metavar="ID[=NAME]",
    help="A workspace to create at start; repeat for more. NAME defaults to ID.",
)
@click.option(
    "--boot-seconds",
    type=click.FloatRange(min=0),
    default=DEFAULT_BOOT_SECONDS,
    show_default=True,
    help="How long a computer stays starting before it runs.",
)
@click.option(
    "--port-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the bound port here once listening (atomically).",
)
@click.option("--seed", type=int, help="Seed for fault probabilities, to repeat a run exactly.")
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default="info",
    show_default=True,
)
def main(
    host: str,
    port: int,
    api_keys: tuple[str, ...],
    workspaces: tuple[str, ...],
    boot_seconds: float,
    port_file: Path | None,
    seed: int | None,
    log_level: str,
) -> None:
    logging.basicConfig(level=log_level.upper(), format=LOG_FORMAT, stream=sys.stderr)
    keys = _api_keys(given=api_keys)
    state = SimulatorState(
        boot_seconds=boot_seconds,
        api_keys=keys,
        workspaces=_workspaces(given=workspaces),
        fault_seed=seed,
    )
    _log_keys(state=state, defaulted=keys == [DEFAULT_API_KEY])
    asyncio.run(_serve(state=state, host=host, port=port, port_file=port_file))


def _api_keys(*, given: Sequence[str]) -> list[str]:
    source = list(given)
    if not source:
        source = [part for part in os.environ.get(API_KEYS_ENV, "").split(",") if part.strip()]
    if not source:
        return [DEFAULT_API_KEY]

    # Parse here so a bad key stops the command with a message, not a traceback.
    for text in source:
        try:
            ApiKey.parse(text)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="'--api-key'") from None
    return [text.strip() for text in source]


def _workspaces(*, given: Sequence[str]) -> list[tuple[str, str]]:
    if not given:
        return [(DEFAULT_WORKSPACE_ID, DEFAULT_WORKSPACE_NAME)]
    parsed: dict[str, str] = {}
    for text in given:
        workspace_id, _, name = text.partition("=")
        workspace_id = workspace_id.strip()
        if not workspace_id:
            raise click.BadParameter(f"{text!r} has no ID before '='.", param_hint="'--workspace'")
        if workspace_id in parsed:
            raise click.BadParameter(
                f"Workspace {workspace_id} is given twice.", param_hint="'--workspace'"
            )
        parsed[workspace_id] = name.strip() or workspace_id
    return list(parsed.items())


def _log_keys(*, state: SimulatorState, defaulted: bool) -> None:
    if defaulted:
        logger.info(
            "No API key was configured; accepting only the account-wide key %s.", DEFAULT_API_KEY
        )
        return
    scoped = [key for key in state.keys if key.workspace_id is not None]
    logger.info(
        "Accepting %d API key(s), %d of them scoped to one workspace.", len(state.keys), len(scoped)
    )
    known = {workspace.id for workspace in state.all_workspaces()}
    for key in scoped:
        if key.workspace_id not in known:
            logger.warning(
                "A key is scoped to workspace %s, which does not exist; it will reach nothing"
                " until that workspace is added.",
                key.workspace_id,
            )


async def _serve(*, state: SimulatorState, host: str, port: int, port_file: Path | None) -> None:
    runner = web.AppRunner(
        create_app(state=state),
        shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS,
        access_log_class=AccessLogger,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()

        # With port 0 only the bound socket knows the port; the first one is
        # the one announced.
        bound_port = runner.addresses[0][1]
        if port_file is not None:
            _write_port_file(port_file, port=bound_port)
        url_host = f"[{host}]" if ":" in host else host
        print(f"Orgo simulator listening on http://{url_host}:{bound_port}{API_PREFIX}", flush=True)

        stopping = asyncio.Event()
        received: list[str] = []
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, _on_signal, stopping, received, signum)
        await stopping.wait()
        logger.info("Stopping the Orgo simulator on %s.", received[0])
    finally:
        await runner.cleanup()
    logger.info("The Orgo simulator has stopped.")


def _on_signal(stopping: asyncio.Event, received: list[str], signum: int) -> None:
    received.append(signal.Signals(signum).name)
    stopping.set()


def _write_port_file(path: Path, *, port: int) -> None:
    # A reader polling for the file must never see it half written.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(f"{port}\n")
    os.replace(temporary, path)


if __name__ == "__main__":
    main()
