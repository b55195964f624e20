"""Fault rules: ways to make the simulated Orgo API misbehave on purpose.

A rule is posted to ``POST /_simulator/faults`` as JSON::

    {"endpoint": "create", "status": 429, "retry_after": 2, "times": 1}

``endpoint`` is one of ``create``, ``get``, ``delete``, ``workspace`` (every
workspace and project route), ``start``, ``stop``, ``restart``, ``resize`` or
``any`` (every ``/api`` request, unknown routes included). What the rule does:

- ``status`` (with optional ``body``, sent verbatim as JSON): answer that status
  instead of the API. Without ``body`` the answer is a standard error body.
- ``retry_after``: also send a ``Retry-After`` header with this many seconds.
- ``latency``: wait this many seconds first; alone, the real API answers after.
- ``hang``: never answer; the handler waits until the client gives up.
- ``drop_after_commit``: perform the real action, then close the connection
  without a response.
- ``malformed``: answer ``status`` (default 200) with a truncated JSON body.
- ``non_json``: answer ``status`` (default 200) with an HTML page.

Only ``drop_after_commit`` lets the real action happen; every other answering
rule replaces it. ``hang``, ``drop_after_commit``, ``malformed`` and ``non_json``
exclude each other. ``times`` limits how many requests a rule hits (default:
no limit), ``probability`` (0..1, default 1) makes it hit some requests only,
and ``name`` restricts it to requests about computers with that name. Rolls use
a per-rule random generator seeded from ``seed`` in the rule, or else from the
book's seed, so a run with a fixed seed repeats exactly.

When several rules match a request, the oldest one that still applies wins;
one request is hit by at most one rule. Rules act before the key is checked, as
a gateway in front of the API would, and every hit shows in the request log.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Mapping
from typing import Any, Final

ENDPOINT_CREATE: Final = "create"
ENDPOINT_GET: Final = "get"
ENDPOINT_DELETE: Final = "delete"
ENDPOINT_WORKSPACE: Final = "workspace"
ENDPOINT_START: Final = "start"
ENDPOINT_STOP: Final = "stop"
ENDPOINT_RESTART: Final = "restart"
ENDPOINT_RESIZE: Final = "resize"
ENDPOINT_ANY: Final = "any"
ENDPOINTS: Final = (
    ENDPOINT_CREATE,
    ENDPOINT_GET,
    ENDPOINT_DELETE,
    ENDPOINT_WORKSPACE,
    ENDPOINT_START,
    ENDPOINT_STOP,
    ENDPOINT_RESTART,
    ENDPOINT_RESIZE,
    ENDPOINT_ANY,
)

MODE_STATUS: Final = "status"
MODE_LATENCY: Final = "latency"
MODE_HANG: Final = "hang"
MODE_DROP_AFTER_COMMIT: Final = "drop_after_commit"
MODE_MALFORMED: Final = "malformed"
MODE_NON_JSON: Final = "non_json"

# The answering modes that cannot be combined: each decides alone what the
# client receives (nothing, a broken body, or a foreign page).
EXCLUSIVE_MODES: Final = (MODE_HANG, MODE_DROP_AFTER_COMMIT, MODE_MALFORMED, MODE_NON_JSON)

# Broken bodies look like success unless the rule says otherwise: that is the
# case a client is most likely to get wrong.
DEFAULT_BROKEN_BODY_STATUS: Final = 200

KNOWN_RULE_FIELDS: Final = frozenset(
    {
        "endpoint",
        "status",
        "body",
        "retry_after",
        "latency",
        "times",
        "probability",
        "seed",
        "name",
        *EXCLUSIVE_MODES,
    }
)

# Seeds for rules without their own seed are drawn from this range.
_SEED_RANGE: Final = 2**32


class InvalidFaultRule(ValueError):
    """A posted rule is not usable; the message names the field."""


@dataclasses.dataclass(repr=False)
class FaultRule:
    """One posted rule, with its bookkeeping of how often it has hit."""

    id: int
    endpoint: str
    status: int | None = None
    has_body: bool = False
    body: Any = None
    retry_after: float | None = None
    latency: float | None = None
    mode: str | None = None
    times: int | None = None
    probability: float = 1.0
    seed: int = 0
    name: str | None = None
    hits: int = 0
    rng: random.Random = dataclasses.field(default_factory=random.Random)

    def __repr__(self) -> str:
        return f"<FaultRule #{self.id} {self.describe()} on {self.endpoint!r}>"

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times

    @property
    def answer_mode(self) -> str:
        """What decides the answer: an exclusive mode, a status, or only latency."""
        if self.mode is not None:
            return self.mode
        if self.status is not None:
            return MODE_STATUS
        return MODE_LATENCY

    def describe(self) -> str:
        """A short label for the request log, such as ``latency+status``."""
        parts = []
        if self.latency:
            parts.append(MODE_LATENCY)
        if self.answer_mode != MODE_LATENCY or not parts:
            parts.append(self.answer_mode)
        return "+".join(parts)

    def matches(self, *, endpoint: str | None, computer_name: str | None) -> bool:
        if self.endpoint != ENDPOINT_ANY and self.endpoint != endpoint:
            return False
        if self.name is not None and self.name != computer_name:
            return False
        return True

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "endpoint": self.endpoint,
            "kind": self.describe(),
            "status": self.status,
            "retry_after": self.retry_after,
            "latency": self.latency,
            "times": self.times,
            "probability": self.probability,
            "seed": self.seed,
            "name": self.name,
            "hits": self.hits,
            "remaining": None if self.times is None else max(self.times - self.hits, 0),
        }
        for mode in EXCLUSIVE_MODES:
            data[mode] = self.mode == mode
        if self.has_body:
            data["body"] = self.body
        return data


class FaultBook:
    """The rules in force, in the order they were posted."""

    def __init__(self, *, seed: int | None = None) -> None:
        self._seed = seed
        self._rng = random.Random(seed)
        self._rules: list[FaultRule] = []
        self._next_id = 1

    def __repr__(self) -> str:
        return f"<FaultBook seed={self._seed!r} rules={self._rules!r}>"

    @property
    def rules(self) -> list[FaultRule]:
        return list(self._rules)

    def add(self, data: Any) -> FaultRule:
        rule = parse_rule(data, rule_id=self._next_id, default_seed=self._draw_seed())
        self._next_id += 1
        self._rules.append(rule)
        return rule

    def remove(self, rule_id: int) -> bool:
        kept = [rule for rule in self._rules if rule.id != rule_id]
        removed = len(kept) != len(self._rules)
        self._rules = kept
        return removed

    def clear(self) -> None:
        # Reseeding makes a reset simulator repeat the same rolls as a fresh one.
        self._rules = []
        self._next_id = 1
        self._rng = random.Random(self._seed)

    def pick(self, *, endpoint: str | None, computer_name: str | None) -> FaultRule | None:
        """The rule that hits this request, if any, counting the hit."""
        for rule in self._rules:
            if rule.exhausted or not rule.matches(endpoint=endpoint, computer_name=computer_name):
                continue

            # A rule that lost its roll does not spend one of its ``times``.
            if rule.probability < 1.0 and rule.rng.random() >= rule.probability:
                continue
            rule.hits += 1
            return rule
        return None

    def _draw_seed(self) -> int:
        return self._rng.randrange(_SEED_RANGE)


def parse_rule(data: Any, *, rule_id: int, default_seed: int) -> FaultRule:
    """Check a posted rule field by field; raise `InvalidFaultRule` naming the field."""
    if not isinstance(data, Mapping):
        raise InvalidFaultRule("A fault rule must be a JSON object.")
    unknown = sorted(set(data) - KNOWN_RULE_FIELDS)
    if unknown:
        allowed = ", ".join(sorted(KNOWN_RULE_FIELDS))
        raise InvalidFaultRule(f"Unknown fault rule field(s) {unknown}; known fields: {allowed}.")

    endpoint = data.get("endpoint")
    if endpoint not in ENDPOINTS:
        raise InvalidFaultRule(
            f"Field 'endpoint' must be one of {', '.join(ENDPOINTS)}; got {endpoint!r}."
        )

    modes = [mode for mode in EXCLUSIVE_MODES if _flag(data, mode)]
    if len(modes) > 1:
        raise InvalidFaultRule(f"Fields {', '.join(modes)} exclude each other; pick one.")
    mode = modes[0] if modes else None

    status = _optional_int(data, "status", minimum=100, maximum=599)
    if status is not None and mode in (MODE_HANG, MODE_DROP_AFTER_COMMIT):
        raise InvalidFaultRule(f"Field 'status' makes no sense with '{mode}': nothing is sent.")
    if status is None and mode in (MODE_MALFORMED, MODE_NON_JSON):
        status = DEFAULT_BROKEN_BODY_STATUS

    has_body = "body" in data
    if has_body and (status is None or mode is not None):
        raise InvalidFaultRule("Field 'body' needs 'status' and no other answering mode.")

    latency = _optional_number(data, "latency")
    if mode is None and status is None and not latency:
        raise InvalidFaultRule(
            "A fault rule needs at least one of 'status', 'latency', 'hang', "
            "'drop_after_commit', 'malformed' or 'non_json'."
        )

    probability = _optional_number(data, "probability")
    if probability is not None and probability > 1.0:
        raise InvalidFaultRule(f"Field 'probability' must be between 0 and 1; got {probability}.")
    seed = _optional_int(data, "seed", minimum=0)
    seed = default_seed if seed is None else seed

    name = data.get("name")
    if name is not None and (not isinstance(name, str) or not name):
        raise InvalidFaultRule(f"Field 'name' must be a non-empty string; got {name!r}.")

    return FaultRule(
        id=rule_id,
        endpoint=endpoint,
        status=status,
        has_body=has_body,
        body=data.get("body"),
        retry_after=_optional_number(data, "retry_after"),
        latency=latency,
        mode=mode,
        times=_optional_int(data, "times", minimum=1),
        probability=1.0 if probability is None else probability,
        seed=seed,
        name=name,
        rng=random.Random(seed),
    )


def _flag(data: Mapping[str, Any], field: str) -> bool:
    value = data.get(field, False)
    if not isinstance(value, bool):
        raise InvalidFaultRule(f"Field '{field}' must be true or false; got {value!r}.")
    return value


def _optional_int(
    data: Mapping[str, Any], field: str, *, minimum: int, maximum: int | None = None
) -> int | None:
    value = data.get(field)
    if value is None:
        return None
    in_range = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    if in_range and maximum is not None:
        in_range = value <= maximum
    if not in_range:
        upper = "" if maximum is None else f" and at most {maximum}"
        raise InvalidFaultRule(
            f"Field '{field}' must be an integer of at least {minimum}{upper}; got {value!r}."
        )
    return value


def _optional_number(data: Mapping[str, Any], field: str) -> float | None:
    value = data.get(field)
    if value is None:
        return None
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if not is_number or not math.isfinite(value) or value < 0:
        raise InvalidFaultRule(f"Field '{field}' must be a number of at least 0; got {value!r}.")
    return float(value)
