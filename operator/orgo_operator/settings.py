"""
The operator's settings, read once from environment variables at start-up.

Every setting has a named default here; a bad value stops the operator at the door with an
error that names the variable and what it accepts.
"""
from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping

import httpx

DEFAULT_API_URL = "https://www.orgo.ai/api"
DEFAULT_REQUEST_TIMEOUT = 15.0
DEFAULT_POLL_INITIAL = 0.25
DEFAULT_POLL_FACTOR = 1.5
DEFAULT_POLL_MAX = 30.0
DEFAULT_RESYNC_INTERVAL = 300.0
DEFAULT_AUTH_RETRY_INTERVAL = 120.0
DEFAULT_BACKOFF_MAX = 60.0
# A replica that dies without a word is taken over once its peering record is this old.
DEFAULT_PEERING_LIFETIME = 15
# A failover slower than a day is no failover; kopf's date arithmetic overflows long before
# the largest whole number, so the bound also keeps a typo from crashing the peering.
MAX_PEERING_LIFETIME = 24 * 60 * 60
# Metrics are served only when a port is set: off for local runs, on in the Helm chart.
DEFAULT_METRICS_ADDRESS = "0.0.0.0"
HIGHEST_PORT = 65535


class SettingsError(ValueError):
    """A setting has a value the operator cannot work with."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """
    What the operator needs to know to talk to Orgo and how often to look.

    >>> Settings.from_env({"ORGO_API_KEY": "sk_test_example"}).api_url
    'https://www.orgo.ai/api'
    """

    api_key: str = dataclasses.field(repr=False)
    api_key_file: str | None = None
    api_url: str = DEFAULT_API_URL
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    poll_initial: float = DEFAULT_POLL_INITIAL
    poll_factor: float = DEFAULT_POLL_FACTOR
    poll_max: float = DEFAULT_POLL_MAX
    resync_interval: float = DEFAULT_RESYNC_INTERVAL
    auth_retry_interval: float = DEFAULT_AUTH_RETRY_INTERVAL
    backoff_max: float = DEFAULT_BACKOFF_MAX
    namespaces: tuple[str, ...] = ()
    peering_lifetime: int = DEFAULT_PEERING_LIFETIME
    metrics_port: int | None = None
    metrics_address: str = DEFAULT_METRICS_ADDRESS

    def __repr__(self) -> str:
        # The key stays out of every repr, so a logged or failing Settings leaks nothing.
        fields = ", ".join(
            f"{field.name}={getattr(self, field.name)!r}"
            for field in dataclasses.fields(self) if field.name != "api_key"
        )
        return f"Settings(api_key=<{'set' if self.api_key else 'unset'}>, {fields})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        settings = cls(
            api_key=_read_api_key(env),
            api_key_file=env.get("ORGO_API_KEY_FILE", "").strip() or None,
            api_url=_read_url(env, "ORGO_API_URL", DEFAULT_API_URL),
            request_timeout=_read_seconds(env, "ORGO_REQUEST_TIMEOUT", DEFAULT_REQUEST_TIMEOUT),
            poll_initial=_read_seconds(env, "ORGO_POLL_INITIAL", DEFAULT_POLL_INITIAL),
            poll_factor=_read_factor(env, "ORGO_POLL_FACTOR", DEFAULT_POLL_FACTOR),
            poll_max=_read_seconds(env, "ORGO_POLL_MAX", DEFAULT_POLL_MAX),
            resync_interval=_read_seconds(env, "ORGO_RESYNC_INTERVAL", DEFAULT_RESYNC_INTERVAL),
            auth_retry_interval=_read_seconds(
                env, "ORGO_AUTH_RETRY_INTERVAL", DEFAULT_AUTH_RETRY_INTERVAL),
            backoff_max=_read_seconds(env, "ORGO_BACKOFF_MAX", DEFAULT_BACKOFF_MAX),
            namespaces=_read_list(env, "ORGO_WATCH_NAMESPACES"),
            peering_lifetime=_read_whole_seconds(env, "ORGO_PEERING_LIFETIME",
                                                 DEFAULT_PEERING_LIFETIME,
                                                 highest=MAX_PEERING_LIFETIME),
            metrics_port=_read_port(env, "ORGO_METRICS_PORT"),
            metrics_address=env.get("ORGO_METRICS_ADDRESS", "").strip() or DEFAULT_METRICS_ADDRESS,
        )
        if settings.poll_max < settings.poll_initial:
            raise SettingsError(
                f"ORGO_POLL_MAX ({settings.poll_max}) must not be below "
                f"ORGO_POLL_INITIAL ({settings.poll_initial})."
            )
        return settings

    def current_api_key(self) -> str:
        """The key to send now: a key file is read again, so a rotated Secret takes effect."""
        if self.api_key_file:
            try:
                with open(self.api_key_file, encoding="utf-8") as file:
                    key = file.read().strip()
            except OSError:
                key = ""
            if key:
                return key
        return self.api_key


def _read_api_key(env: Mapping[str, str]) -> str:
    # A file wins over the variable: a mounted Secret can rotate without a restart of the pod
    # spec, and the key then never sits in the process environment.
    path = env.get("ORGO_API_KEY_FILE", "").strip()
    if path:
        try:
            with open(path, encoding="utf-8") as file:
                key = file.read().strip()
        except OSError as exc:
            raise SettingsError(f"ORGO_API_KEY_FILE {path!r} cannot be read: {exc.strerror}.")
    else:
        key = env.get("ORGO_API_KEY", "").strip()
    if not key:
        raise SettingsError(
            "ORGO_API_KEY is not set: set it to an Orgo API key (sk_...), "
            "or set ORGO_API_KEY_FILE to a file that holds one."
        )
    return key


def _read_url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise SettingsError(f"{name} is not a URL ({exc}): {value!r}.") from None
    if url.scheme not in ("http", "https"):
        raise SettingsError(f"{name} must be an http:// or https:// URL, not {value!r}.")

    # "http://" parses, as a URL with an empty host: every request would fail far from here.
    if not url.host:
        raise SettingsError(f"{name} must name a host, as in {DEFAULT_API_URL!r}, not {value!r}.")
    return value.rstrip("/")


def _read_seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    value = _parse_finite(name, raw, what="a number of seconds")
    if value <= 0:
        raise SettingsError(f"{name} must be above 0, not {raw!r}.")
    return value


def _read_factor(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    value = _parse_finite(name, raw, what="a factor such as 1.5")

    # Each wait is the one before times the factor: below 1, the waits would shrink.
    if value < 1:
        raise SettingsError(f"{name} must be 1 or more, not {raw!r}.")
    return value


def _parse_finite(name: str, raw: str, *, what: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be {what}, not {raw!r}.") from None

    # float() also reads "nan", "inf", and numbers too large for a float as inf: a wait of
    # nan or inf seconds never ends or never compares, so neither is a setting.
    if not math.isfinite(value):
        raise SettingsError(f"{name} must be a finite number, not {raw!r}.")
    return value


def _read_whole_seconds(env: Mapping[str, str], name: str, default: int, *,
                        highest: int) -> int:
    # kopf keeps peering lifetimes as whole seconds.
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number of seconds, not {raw!r}.") from None
    if not 1 <= value <= highest:
        raise SettingsError(f"{name} must be from 1 to {highest} seconds, not {raw!r}.")
    return value


def _read_port(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a port number, not {raw!r}.") from None
    if not 1 <= value <= HIGHEST_PORT:
        raise SettingsError(f"{name} must be a port from 1 to {HIGHEST_PORT}, not {raw!r}.")
    return value


def _read_list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())
