"""Settings from the environment: defaults, bad values named, the key kept out of sight."""
from __future__ import annotations

import pytest

from orgo_operator.settings import DEFAULT_API_URL, Settings, SettingsError


def test_defaults():
    settings = Settings.from_env({"ORGO_API_KEY": "sk_test_x"})
    assert settings.api_url == DEFAULT_API_URL
    assert settings.namespaces == ()
    assert settings.poll_initial < 1


def test_the_key_never_shows_in_the_repr():
    settings = Settings.from_env({"ORGO_API_KEY": "sk_test_very_secret"})
    assert "sk_test_very_secret" not in repr(settings)
    assert "api_key=<set>" in repr(settings)


def test_a_missing_key_is_named():
    with pytest.raises(SettingsError, match="ORGO_API_KEY"):
        Settings.from_env({})


@pytest.mark.parametrize(("name", "value"), [
    ("ORGO_API_URL", "ftp://orgo"),
    ("ORGO_REQUEST_TIMEOUT", "soon"),
    ("ORGO_POLL_INITIAL", "-1"),
    ("ORGO_POLL_FACTOR", "0.5"),
])
def test_a_bad_value_names_the_variable(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({"ORGO_API_KEY": "k", name: value})


def test_namespaces_are_a_comma_separated_list():
    settings = Settings.from_env({"ORGO_API_KEY": "k", "ORGO_WATCH_NAMESPACES": "a, b,,c"})
    assert settings.namespaces == ("a", "b", "c")


def test_a_key_file_is_read_again_when_it_changes(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("sk_test_first\n")
    settings = Settings.from_env({"ORGO_API_KEY_FILE": str(key_file)})
    assert settings.current_api_key() == "sk_test_first"
    key_file.write_text("sk_test_second")
    assert settings.current_api_key() == "sk_test_second"


def test_an_unreadable_key_file_is_named(tmp_path):
    with pytest.raises(SettingsError, match="ORGO_API_KEY_FILE"):
        Settings.from_env({"ORGO_API_KEY_FILE": str(tmp_path / "absent")})
