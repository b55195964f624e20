"""The orgo-operator command's flags for replicas and metrics, and the settings behind them."""
from __future__ import annotations

import json
import logging
import re

import click
import kopf
import pytest
from click.testing import CliRunner

from orgo_operator import cli
from orgo_operator.settings import DEFAULT_PEERING_LIFETIME, Settings, SettingsError

KEY = {"ORGO_API_KEY": "sk_test_example"}


def test_auto_priority_falls_with_the_start_time():
    older = cli.start_time_priority(started=1_700_000_000.0, tiebreak=999)
    younger = cli.start_time_priority(started=1_700_000_000.001, tiebreak=0)
    assert older > younger

    # Started in the same millisecond, two replicas still differ.
    same = {cli.start_time_priority(started=1_700_000_000.0, tiebreak=t) for t in (1, 2)}
    assert len(same) == 2

    # kopf keeps priorities in the peering object as JSON integers: they fit in 64 bits.
    assert -(2 ** 63) < younger


@pytest.mark.parametrize(("given", "read"), [("auto", "auto"), ("7", 7), (" -3 ", -3), (5, 5)])
def test_a_priority_is_a_number_or_auto(given, read):
    assert cli.PriorityType().convert(given, None, None) == read


def test_a_bad_priority_is_refused_naming_it():
    with pytest.raises(click.BadParameter, match="'high' is neither a whole number nor 'auto'"):
        cli.PriorityType().convert("high", None, None)


def test_a_bad_metrics_port_stops_the_command(monkeypatch):
    monkeypatch.setenv("ORGO_API_KEY", "sk_test_example")
    result = CliRunner().invoke(cli.main, ["run", "--metrics-port", "70000"])
    assert result.exit_code == 2
    assert "--metrics-port" in result.output


def test_metrics_are_off_and_the_peering_lifetime_is_15s_unless_set():
    settings = Settings.from_env(KEY)
    assert settings.metrics_port is None
    assert settings.metrics_address == "0.0.0.0"
    assert settings.peering_lifetime == DEFAULT_PEERING_LIFETIME


def test_metrics_and_peering_settings_are_read():
    settings = Settings.from_env({**KEY, "ORGO_METRICS_PORT": "9090",
                                  "ORGO_METRICS_ADDRESS": "127.0.0.1",
                                  "ORGO_PEERING_LIFETIME": "30"})
    assert (settings.metrics_port, settings.metrics_address, settings.peering_lifetime) == \
        (9090, "127.0.0.1", 30)


@pytest.mark.parametrize(("name", "value", "message"), [
    ("ORGO_METRICS_PORT", "http", "must be a port number"),
    ("ORGO_METRICS_PORT", "0", "must be a port from 1 to 65535"),
    ("ORGO_PEERING_LIFETIME", "1.5", "must be a whole number of seconds"),
    ("ORGO_PEERING_LIFETIME", "0", "must be from 1 to 86400 seconds"),
])
def test_bad_metrics_and_peering_settings_name_the_variable(name, value, message):
    with pytest.raises(SettingsError, match=f"{name} {message}"):
        Settings.from_env({**KEY, name: value})


@pytest.fixture
def restored_logging():
    # The command configures the root logger for the whole process: put it back afterwards.
    root, quieted = logging.getLogger(), logging.getLogger("asyncio")
    saved = (root.handlers[:], root.level, quieted.handlers[:], quieted.propagate)
    yield
    root.handlers[:], level, quieted.handlers[:], quieted.propagate = saved
    root.setLevel(level)


def log_about_a_resource(message: str) -> None:
    body = kopf.Body({"apiVersion": "orgo.ai/v1alpha1", "kind": "OrgoComputer",
                      "metadata": {"namespace": "team-a", "name": "agent-1", "uid": "u-1"}})
    kopf.LocalObjectLogger(body=body, settings=kopf.OperatorSettings()).info(message)


@pytest.mark.parametrize(("log_format", "line"), [
    ("plain", r"\[team-a/agent-1\] Created computer c-1; it is starting\."),
    ("full", r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\] kopf\.objects +\[INFO +\] "
             r"\[team-a/agent-1\] Created computer c-1; it is starting\."),
])
def test_text_log_lines_name_their_resource(log_format, line, capsys, restored_logging):
    cli.configure_logging(log_format=log_format, verbose=False, debug=False, quiet=False)
    log_about_a_resource("Created computer c-1; it is starting.")
    assert re.fullmatch(line, capsys.readouterr().err.strip())


def test_json_log_lines_carry_the_resource_as_a_field(capsys, restored_logging):
    cli.configure_logging(log_format="json", verbose=False, debug=False, quiet=False)
    log_about_a_resource("Created computer c-1; it is starting.")
    record = json.loads(capsys.readouterr().err)
    assert record["message"] == "Created computer c-1; it is starting."
    assert record[cli.LOG_REFKEY]["namespace"] == "team-a"
    assert record[cli.LOG_REFKEY]["name"] == "agent-1"
