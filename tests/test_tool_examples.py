"""The example tools: the time in a zone, arithmetic without eval, and an ORM query scoped to its user."""

from __future__ import annotations

from datetime import datetime

import pytest

from conversations.tools.examples import calculate, current_time, find_conversations
from conversations.tools.schema import ToolContext


def test_current_time_is_in_the_zone_asked_for():
    stamp = datetime.fromisoformat(current_time("Asia/Kolkata"))
    assert stamp.utcoffset().total_seconds() == 5.5 * 3600


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", ""])
def test_an_unknown_time_zone_is_refused_clearly(zone):
    with pytest.raises(ValueError, match="unknown time zone"):
        current_time(zone)


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("2 ** 10", 1024),
        ("7 // 2", 3),
        ("7 % 4", 3),
        ("-3 + +1", -2),
        ("1/4", 0.25),
    ],
)
def test_arithmetic(expression, value):
    assert calculate(expression) == value


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("__import__('os').system('true')", "not allowed"),
        ("x + 1", "not allowed"),
        ("(1).__class__", "not allowed"),
        ("'a' * 3", "not allowed"),
        ("[1, 2]", "not allowed"),
        ("2 ** 2 ** 30", "exponents above"),
        ("1 +", "not an arithmetic expression"),
        ("1" * 600, "longer than"),
    ],
)
def test_anything_but_arithmetic_is_refused(expression, problem):
    with pytest.raises(ValueError, match=problem):
        calculate(expression)


@pytest.mark.django_db
def test_find_conversations_sees_only_the_users_own(alice, bob, make_conversation):
    mine = make_conversation(alice, title="Lisbon trip")
    make_conversation(bob, title="Lisbon secrets")
    found = find_conversations("lisbon", ToolContext(user_id=alice.pk, conversation_id=None))
    assert found == [{"id": str(mine.id), "title": "Lisbon trip"}]
