"""Start-up: a missing kubeconfig or a taken metrics port ends the operator with one line."""
from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import kopf
import kubernetes
import pytest

from orgo_operator import startup
from orgo_operator.kube import IN_CLUSTER_VARIABLE, KubeApi
from orgo_operator.settings import Settings

# Long enough for the interpreter to import kopf; a start-up failure takes about a second.
COMMAND_TIMEOUT = 30

# A kubeconfig that loads, for an API server nobody will call.
KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: test
contexts: [{name: test, context: {cluster: test, user: test}}]
clusters: [{name: test, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: test, user: {token: not-a-token}}]
"""

LOGGER = logging.getLogger(__name__)


@pytest.fixture
def kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.delenv(IN_CLUSTER_VARIABLE, raising=False)
    return path


@contextlib.contextmanager
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def settings(**overrides: object) -> Settings:
    return Settings(api_key="sk_test_x", metrics_address="127.0.0.1", **overrides)


def run_operator(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith(("ORGO_", "KUBE"))}
    return subprocess.run(
        [sys.executable, "-m", "orgo_operator", "run", "-A", *args],
        env={**environ, "ORGO_API_KEY": "sk_test_x", **env},
        capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False,
    )


def test_a_missing_kubeconfig_is_a_permanent_error_naming_it(tmp_path, monkeypatch):
    absent = tmp_path / "absent"
    monkeypatch.setenv("KUBECONFIG", str(absent))
    monkeypatch.delenv(IN_CLUSTER_VARIABLE, raising=False)
    with pytest.raises(kopf.PermanentError) as caught:
        KubeApi.from_environment()
    assert str(caught.value).startswith(f"Cannot load the kubeconfig from KUBECONFIG='{absent}'")


def test_a_kubeconfig_that_is_not_yaml_is_named_in_one_line(tmp_path, monkeypatch):
    broken = tmp_path / "kubeconfig"
    broken.write_text("clusters: [unclosed")
    monkeypatch.setenv("KUBECONFIG", str(broken))
    monkeypatch.delenv(IN_CLUSTER_VARIABLE, raising=False)
    with pytest.raises(kopf.PermanentError, match="KUBECONFIG=") as caught:
        KubeApi.from_environment()
    assert "\n" not in str(caught.value)


def test_in_a_pod_the_service_account_is_named_first(tmp_path, monkeypatch):
    def no_token(**_: object) -> None:
        raise kubernetes.config.ConfigException("Service token file does not exist.")

    monkeypatch.setattr(kubernetes.config, "load_incluster_config", no_token)
    monkeypatch.setenv(IN_CLUSTER_VARIABLE, "10.0.0.1")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    with pytest.raises(kopf.PermanentError) as caught:
        KubeApi.from_environment()
    assert str(caught.value).startswith(
        "Cannot use the pod's service account (Service token file does not exist.) nor the "
        "kubeconfig from KUBECONFIG=")


def test_the_clients_are_built_before_the_metrics_port_is_taken(kubeconfig):
    memo: dict = {}
    with taken_port() as port:
        with pytest.raises(kopf.PermanentError) as caught:
            startup.prepare(memo=memo, settings=settings(metrics_port=port), logger=LOGGER)
    assert str(caught.value).startswith(
        f"Cannot serve metrics on 127.0.0.1:{port}: Address already in use.")
    assert {"kube", "orgo", "metrics"} <= memo.keys()
    assert "metrics_server" not in memo


async def test_preparing_again_keeps_what_the_memo_holds(kubeconfig):
    memo: dict = {}
    startup.prepare(memo=memo, settings=settings(metrics_port=0), logger=LOGGER)
    try:
        built = dict(memo)
        # A second start-up handler run, or one after `orgo-operator run` prepared: no port
        # taken twice, no client built twice.
        startup.prepare(memo=memo, settings=settings(metrics_port=0), logger=LOGGER)
        assert all(memo[key] is built[key] for key in built)
    finally:
        memo["metrics_server"].close()
        await memo["orgo"].close()
        memo["kube"].close()


def test_the_command_ends_at_once_without_a_kubeconfig(tmp_path):
    absent = tmp_path / "absent"
    result = run_operator(env={"KUBECONFIG": str(absent)})
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: Cannot load the kubeconfig from KUBECONFIG='{absent}': Invalid kube-config "
        "file. No configuration found. Set KUBECONFIG to a readable kubeconfig file, or run "
        "the operator in a pod with a service account."
    ]


def test_the_command_ends_at_once_when_the_metrics_port_is_taken(kubeconfig):
    with taken_port() as port:
        result = run_operator("--metrics-port", str(port),
                              env={"KUBECONFIG": str(kubeconfig),
                                   "ORGO_METRICS_ADDRESS": "127.0.0.1"})
    assert result.returncode == 1
    # One line: no kopf traceback, no warning about coroutines never awaited.
    assert result.stderr.splitlines() == [
        f"Error: Cannot serve metrics on 127.0.0.1:{port}: Address already in use. Stop what "
        "holds the port, or choose another with --metrics-port or ORGO_METRICS_PORT."
    ]
