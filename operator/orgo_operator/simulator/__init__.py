"""A simulated Orgo API on loopback, so the operator can be tested and shown offline.

- `state`: the account in memory (workspaces, keys, computers, outcomes, log);
- `faults`: rules that make the API misbehave on purpose;
- `app`: the aiohttp application serving ``/api`` and ``/_simulator``;
- `control`: a synchronous client for the control endpoints, for tests;
- ``python -m orgo_operator.simulator`` or ``orgo-simulator``: the command.
"""

from orgo_operator.simulator.app import create_app
from orgo_operator.simulator.control import SimulatorControl, SimulatorControlError
from orgo_operator.simulator.faults import FaultBook, FaultRule
from orgo_operator.simulator.state import SimulatorState

__all__ = [
    "FaultBook",
    "FaultRule",
    "SimulatorControl",
    "SimulatorControlError",
    "SimulatorState",
    "create_app",
]
