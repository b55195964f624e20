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


SECONDS_VARIABLES = ["ORGO_REQUEST_TIMEOUT", "ORGO_POLL_INITIAL", "ORGO_POLL_MAX",
                     "ORGO_RESYNC_INTERVAL", "ORGO_AUTH_RETRY_INTERVAL", "ORGO_BACKOFF_MAX"]


@pytest.mark.parametrize("name", [*SECONDS_VARIABLES, "ORGO_POLL_FACTOR"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400"])
def test_a_number_that_is_not_finite_is_refused(name, value):
    # float() reads all four; "1e400" is too large for a float and reads as inf.
    with pytest.raises(SettingsError, match=f"^{name} must be a finite number, not '{value}'"):
        Settings.from_env({"ORGO_API_KEY": "k", name: value})


@pytest.mark.parametrize("name", ["ORGO_PEERING_LIFETIME", "ORGO_METRICS_PORT"])
@pytest.mark.parametrize("value", ["nan", "inf", "1e400"])
def test_whole_number_settings_refuse_what_is_not_finite(name, value):
    with pytest.raises(SettingsError, match=f"^{name} must be a .*, not '{value}'"):
        Settings.from_env({"ORGO_API_KEY": "k", name: value})


def test_the_peering_lifetime_is_at_most_a_day():
    assert Settings.from_env({"ORGO_API_KEY": "k",
                              "ORGO_PEERING_LIFETIME": "86400"}).peering_lifetime == 86400
    with pytest.raises(SettingsError, match="ORGO_PEERING_LIFETIME must be from 1 to 86400"):
        Settings.from_env({"ORGO_API_KEY": "k", "ORGO_PEERING_LIFETIME": "86401"})


def test_the_poll_factor_is_called_a_factor_not_seconds():
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"ORGO_API_KEY": "k", "ORGO_POLL_FACTOR": "abc"})
    assert str(caught.value) == "ORGO_POLL_FACTOR must be a factor such as 1.5, not 'abc'."

    with pytest.raises(SettingsError, match="ORGO_REQUEST_TIMEOUT must be a number of seconds"):
        Settings.from_env({"ORGO_API_KEY": "k", "ORGO_REQUEST_TIMEOUT": "abc"})


@pytest.mark.parametrize("value", ["http://", "https://", "http:///api", "https://:8080/api"])
def test_an_api_url_without_a_host_is_refused_showing_it(value):
    with pytest.raises(SettingsError, match="ORGO_API_URL must name a host") as caught:
        Settings.from_env({"ORGO_API_KEY": "k", "ORGO_API_URL": value})
    assert repr(value) in str(caught.value)


def test_an_api_url_that_does_not_parse_is_refused_showing_it():
    with pytest.raises(SettingsError, match="ORGO_API_URL is not a URL .*'http://orgo:port'"):
        Settings.from_env({"ORGO_API_KEY": "k", "ORGO_API_URL": "http://orgo:port"})


def test_an_api_url_with_a_host_is_kept_without_its_trailing_slash():
    settings = Settings.from_env({"ORGO_API_KEY": "k",
                                  "ORGO_API_URL": "http://127.0.0.1:8080/api/"})
    assert settings.api_url == "http://127.0.0.1:8080/api"
