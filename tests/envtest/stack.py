"""
The rest of a local stack beside the control plane: the Orgo simulator and the operator, each
a real process started from the installed commands, as a person would start them.

    with Simulator.started(workdir) as orgo, Operator.started(workdir, cluster, orgo) as op:
        ...
"""
from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx

from orgo_operator.simulator.control import SimulatorControl
from tests.envtest.controlplane import ControlPlane, free_port

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
DEFAULT_WORKSPACE_ID = "550e8400-e29b-41d4-a716-446655440000"


def _command(name: str) -> list[str]:
    # The console scripts sit beside the interpreter in the virtualenv.
    script = Path(sys.executable).with_name(name)
    return [str(script)] if script.exists() else [sys.executable, "-m", name.replace("-", "_")]


def _stop(process: subprocess.Popen[bytes], *, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Simulator:
    """The Orgo simulator on a free loopback port, with a fresh random API key."""

    def __init__(self, *, workdir: Path, boot_seconds: float = 0.5,
                 extra_args: Sequence[str] = ()) -> None:
        self.workdir = workdir
        self.boot_seconds = boot_seconds
        self.extra_args = tuple(extra_args)
        self.api_key = f"sk_test_{secrets.token_hex(12)}"
        self.api_url = ""
        self.workspace_id = DEFAULT_WORKSPACE_ID
        self.log_path = workdir / "simulator.log"
        self._process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"Simulator(api_url={self.api_url!r})"

    @classmethod
    @contextlib.contextmanager
    def started(cls, workdir: Path, **kwargs) -> Iterator[Simulator]:
        simulator = cls(workdir=workdir, **kwargs)
        try:
            simulator.start()
            yield simulator
        finally:
            simulator.stop()

    def start(self) -> None:
        """Start on a free port, or, after a stop, on the port it had (a restart)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        port_file = self.workdir / "simulator.port"
        port_file.unlink(missing_ok=True)
        port = self.api_url.rsplit(":", 1)[1].split("/")[0] if self.api_url else "0"
        self._process = subprocess.Popen(
            [*_command("orgo-simulator"), "--port", port, "--port-file", str(port_file),
             "--boot-seconds", str(self.boot_seconds), *self.extra_args],
            env={**os.environ, "ORGO_SIMULATOR_API_KEYS": self.api_key},
            stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not port_file.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"The simulator did not start; see {self.log_path}.")
            time.sleep(0.05)
        self.api_url = f"http://127.0.0.1:{port_file.read_text().strip()}/api"

    def stop(self) -> None:
        if self._process is not None:
            _stop(self._process)
            self._process = None

    def control(self) -> SimulatorControl:
        return SimulatorControl(self.api_url)


class Operator:
    """The operator as a process, watching the control plane and talking to the simulator."""

    def __init__(self, *, workdir: Path, cluster: ControlPlane, simulator: Simulator,
                 args: Sequence[str] = ("--all-namespaces",),
                 env: Mapping[str, str] | None = None, name: str = "operator") -> None:
        self.workdir = workdir
        self.cluster = cluster
        self.simulator = simulator
        self.args = tuple(args)
        self.env = dict(env or {})
        self.log_path = workdir / f"{name}.log"
        self.health_url = ""
        self._process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"Operator(args={self.args!r}, log={str(self.log_path)!r})"

    @classmethod
    @contextlib.contextmanager
    def started(cls, workdir: Path, cluster: ControlPlane, simulator: Simulator,
                **kwargs) -> Iterator[Operator]:
        operator = cls(workdir=workdir, cluster=cluster, simulator=simulator, **kwargs)
        try:
            operator.start()
            yield operator
        finally:
            operator.stop()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {
            **self.cluster.env(),
            "ORGO_API_URL": self.simulator.api_url,
            "ORGO_API_KEY": self.simulator.api_key,
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }
        self.health_url = f"http://127.0.0.1:{free_port()}/healthz"
        self._process = subprocess.Popen(
            [*_command("orgo-operator"), "run", "--liveness", self.health_url, *self.args],
            env=env, stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        # Up once its health endpoint answers, which kopf serves after the startup handlers.
        deadline = time.monotonic() + START_TIMEOUT
        while not self.healthy():
            if self._process.poll() is not None:
                raise RuntimeError(f"The operator exited at start; see {self.log_path}.")
            if time.monotonic() > deadline:
                raise RuntimeError(f"The operator did not become healthy; see {self.log_path}.")
            time.sleep(0.1)

    def healthy(self) -> bool:
        try:
            return httpx.get(self.health_url, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self._process is not None:
            _stop(self._process)
            self._process = None

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye, as when a node dies."""
        if self._process is not None:
            _stop(self._process, sig=signal.SIGKILL)
            self._process = None

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
