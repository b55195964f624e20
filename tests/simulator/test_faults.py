"""Fault rules on their own: parsing, matching, counting and seeded rolls."""

from __future__ import annotations

import random

import pytest

from orgo_operator.simulator.faults import FaultBook, InvalidFaultRule


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        ([], "JSON object"),
        ({"status": 500}, "endpoint"),
        ({"endpoint": "reboot", "status": 500}, "endpoint"),
        ({"endpoint": "get"}, "at least one"),
        ({"endpoint": "get", "status": 42}, "status"),
        ({"endpoint": "get", "status": "500"}, "status"),
        ({"endpoint": "get", "hang": True, "malformed": True}, "exclude"),
        ({"endpoint": "get", "hang": "yes"}, "hang"),
        ({"endpoint": "get", "hang": True, "status": 500}, "status"),
        ({"endpoint": "get", "body": {"x": 1}, "latency": 1}, "body"),
        ({"endpoint": "get", "status": 500, "probability": 1.5}, "probability"),
        ({"endpoint": "get", "status": 500, "times": 0}, "times"),
        ({"endpoint": "get", "status": 500, "latency": -1}, "latency"),
        ({"endpoint": "get", "status": 500, "name": ""}, "name"),
        ({"endpoint": "get", "status": 500, "colour": "red"}, "colour"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_field(rule, named):
    with pytest.raises(InvalidFaultRule, match=named):
        FaultBook(seed=1).add(rule)


def test_rules_describe_what_they_do():
    book = FaultBook(seed=1)
    assert book.add({"endpoint": "get", "status": 503}).describe() == "status"
    assert book.add({"endpoint": "get", "latency": 0.5}).describe() == "latency"
    assert book.add({"endpoint": "get", "latency": 0.5, "status": 503}).describe() == (
        "latency+status"
    )
    assert book.add({"endpoint": "get", "non_json": True}).describe() == "non_json"
    malformed = book.add({"endpoint": "get", "malformed": True})
    assert (malformed.describe(), malformed.status) == ("malformed", 200)
    assert "FaultRule #5" in repr(malformed)


def test_times_limits_the_hits_and_the_oldest_matching_rule_wins():
    book = FaultBook(seed=1)
    first = book.add({"endpoint": "create", "status": 500, "times": 2})
    second = book.add({"endpoint": "any", "status": 503})

    picked = [book.pick(endpoint="create", computer_name=None) for _ in range(3)]
    assert picked == [first, first, second]
    assert first.to_json()["remaining"] == 0
    assert book.pick(endpoint="get", computer_name=None) is second


def test_a_name_filter_matches_only_that_computer():
    book = FaultBook(seed=1)
    rule = book.add({"endpoint": "get", "status": 500, "name": "flaky"})
    assert book.pick(endpoint="get", computer_name="steady") is None
    assert book.pick(endpoint="get", computer_name=None) is None
    assert book.pick(endpoint="get", computer_name="flaky") is rule
    assert book.pick(endpoint="delete", computer_name="flaky") is None


def test_probability_rolls_repeat_with_the_same_seed():
    rolls = 40
    rule_seed = 1234
    book = FaultBook()
    book.add({"endpoint": "get", "status": 500, "probability": 0.5, "seed": rule_seed})
    hits = [book.pick(endpoint="get", computer_name=None) is not None for _ in range(rolls)]

    expected_rng = random.Random(rule_seed)
    assert hits == [expected_rng.random() < 0.5 for _ in range(rolls)]
    assert any(hits) and not all(hits)


def test_the_book_seed_makes_unseeded_rules_repeat_after_a_clear():
    book = FaultBook(seed=99)

    def run() -> list[bool]:
        book.add({"endpoint": "get", "status": 500, "probability": 0.3})
        return [book.pick(endpoint="get", computer_name=None) is not None for _ in range(30)]

    first = run()
    book.clear()
    assert run() == first
    assert FaultBook(seed=99).add({"endpoint": "get", "status": 500}).seed == book.rules[0].seed


def test_a_lost_roll_does_not_spend_a_time():
    book = FaultBook()
    rule = book.add({"endpoint": "get", "status": 500, "probability": 0.5, "times": 1, "seed": 3})
    picks = [book.pick(endpoint="get", computer_name=None) for _ in range(50)]
    assert picks.count(rule) == 1
    assert rule.hits == 1


def test_rules_can_be_removed_one_by_one_or_all_at_once():
    book = FaultBook(seed=1)
    kept = book.add({"endpoint": "get", "status": 500})
    gone = book.add({"endpoint": "get", "status": 502})
    assert book.remove(gone.id) is True
    assert book.remove(gone.id) is False
    assert book.rules == [kept]
    book.clear()
    assert book.rules == []
