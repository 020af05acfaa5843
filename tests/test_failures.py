"""Failures of the services Parley depends on become `unavailable` in words, and answers are bounded in time."""

from __future__ import annotations

import asyncio

import pytest
from django.db import IntegrityError, InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from conversations import failures


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (OperationalError("connection refused"), failures.DATABASE_DOWN),
        (InterfaceError("connection already closed"), failures.DATABASE_DOWN),
        (RedisConnectionError("Error 111"), failures.REDIS_DOWN),
        (RedisTimeoutError("Timeout reading"), failures.REDIS_DOWN),
        (ConnectionRefusedError(), failures.REDIS_DOWN),
        (TimeoutError(), failures.TOO_SLOW),
    ],
)
def test_a_service_down_is_described_in_words(error, words):
    assert failures.unavailable_detail(error) == words


@pytest.mark.parametrize("error", [IntegrityError("duplicate key"), KeyError("x"), RuntimeError("bug")])
def test_anything_else_is_not_unavailable(error):
    assert failures.unavailable_detail(error) is None


async def test_a_slow_handling_is_answered_in_time_and_still_finishes():
    gate, finished = asyncio.Event(), asyncio.Event()

    async def handling():
        await gate.wait()
        finished.set()
        return "started"

    with pytest.raises(TimeoutError):
        await failures.answer_within(handling(), timeout=0.01)
    gate.set()
    await finished.wait()  # shielded: a send that gets through late still runs, once


async def test_a_quick_handling_returns_its_result():
    async def handling():
        return 42

    assert await failures.answer_within(handling(), timeout=5) == 42
