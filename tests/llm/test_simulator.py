"""The built-in simulator through the real provider path: directives, determinism, markdown, failures."""

from __future__ import annotations

import time

import httpx
import pytest

from conversations.llm.config import ProviderConfig, SimulatorDefaults
from conversations.llm.errors import RateLimited, StreamInterrupted, UpstreamErrorEvent, UpstreamTimeout
from conversations.llm.providers.simulator import SimulatorProvider
from conversations.llm.simulator import start_simulator
from conversations.llm.simulator.directives import parse_directives

from .conftest import collect, config, text_of

pytestmark = pytest.mark.usefixtures("read_each_way")

FAST = SimulatorDefaults(tps=0, ttft=0, tokens=120)


def in_process(**overrides) -> SimulatorProvider:
    return SimulatorProvider(ProviderConfig(simulator=FAST, retry_base_delay=0.01, **overrides))


async def test_default_reply_is_markdown_with_heading_list_code_and_table() -> None:
    events = await collect(in_process(), "hello", model="parley-simulator")
    text = text_of(events)
    assert text.startswith("## ")
    assert "\n- " in text and "```" in text and "|---|---|" in text
    finish = events[-1]
    assert finish.model == "parley-simulator" and "simulator" in finish.model
    assert finish.reason == "stop"
    assert finish.usage.completion_tokens == 120


async def test_same_seed_same_reply_and_other_seed_differs() -> None:
    provider = in_process()
    first = text_of(await collect(provider, "!sim seed=7 tokens=60"))
    again = text_of(await collect(provider, "!sim seed=7 tokens=60"))
    other = text_of(await collect(provider, "!sim seed=8 tokens=60"))
    assert first == again != other


async def test_tokens_and_max_tokens_set_reply_length() -> None:
    events = await collect(in_process(), "!sim tokens=5")
    assert len(events) == 6
    capped = await collect(in_process(), "!sim tokens=50", max_tokens=3)
    assert len(capped) == 4 and capped[-1].reason == "length"


async def test_echo_replies_verbatim() -> None:
    body = "<script>alert(1)</script>\n\n**bold**  and `code`\n"
    assert text_of(await collect(in_process(), f"!sim echo=1\n{body}")) == body


async def test_stamp_tokens_are_numbered_with_emit_time() -> None:
    events = await collect(in_process(), "!sim stamp=1 tokens=4")
    tokens = [e for e in events if isinstance(e, str)]
    assert [t.split(":")[0] for t in tokens] == ["1", "2", "3", "4"]
    assert all(abs(int(t.split(":")[1]) - time.time_ns()) < 5e9 for t in tokens)


async def test_tps_and_ttft_pace_the_reply() -> None:
    started = time.monotonic()
    await collect(in_process(), "!sim tokens=10 tps=50 ttft=0.1")
    assert 0.25 <= time.monotonic() - started < 1.5


async def test_fail_times_is_retried_away() -> None:
    events = await collect(in_process(max_attempts=3), "!sim fail=503 fail_times=2 seed=41 tokens=3")
    assert len(events) == 4


async def test_fail_429_sends_retry_after_and_json_error() -> None:
    server = await start_simulator(tps=0, ttft=0)
    try:
        async with httpx.AsyncClient() as client:
            body = {"stream": True, "messages": [{"role": "user", "content": "!sim fail=429"}]}
            response = await client.post(f"http://127.0.0.1:{server.port}/v1/chat/completions", json=body)
            models = await client.get(f"http://127.0.0.1:{server.port}/v1/models")
    finally:
        server.close()
    assert response.status_code == 429 and response.headers["retry-after"] == "0"
    assert response.json()["error"]["message"] == "Simulated failure (HTTP 429)."
    assert models.json()["data"][0]["id"] == "parley-simulator"


async def test_fail_without_retries_raises_typed_error() -> None:
    with pytest.raises(RateLimited, match="Simulated failure"):
        await collect(in_process(max_attempts=1), "!sim fail=429")


async def test_reset_after_interrupts_with_partial() -> None:
    with pytest.raises(StreamInterrupted) as caught:
        await collect(in_process(), "!sim echo=1 reset_after=2\none two three")
    assert caught.value.partial == "one two"


async def test_error_after_raises_error_event_with_partial() -> None:
    with pytest.raises(UpstreamErrorEvent, match="Simulated error after 2 tokens") as caught:
        await collect(in_process(), "!sim echo=1 error_after=2\nalpha beta gamma")
    assert caught.value.partial == "alpha beta"


@pytest.mark.parametrize("directive", ["stall_after=1", "drip=0.05"])
async def test_stall_and_drip_hit_the_idle_timeout(directive: str) -> None:
    server = await start_simulator(tps=0, ttft=0)
    try:
        provider = SimulatorProvider(config(f"http://127.0.0.1:{server.port}/v1", idle=0.4))
        with pytest.raises(UpstreamTimeout) as caught:
            await collect(provider, f"!sim echo=1 {directive}\nfirst second")
    finally:
        server.close()
    assert caught.value.partial == "first"


def test_directives_merge_lines_and_ignore_junk() -> None:
    messages = [
        {"role": "user", "content": "!sim tokens=1"},
        {"role": "assistant", "content": "x"},
        {"role": "user", "content": "!sim tokens=9 bogus=1 tps=fast\n!sim echo=1\nrest\nof it"},
    ]
    directives = parse_directives(messages)
    assert (directives.tokens, directives.tps, directives.echo, directives.echo_text) == (9, None, 1, "rest\nof it")
