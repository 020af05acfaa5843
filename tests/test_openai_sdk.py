"""The official `openai` SDK against a running Parley (daphne, Redis, the simulator): models, both
completion shapes, error mapping, fifty concurrent streams, and a saved call a socket watches."""

from __future__ import annotations

import asyncio

import openai
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from conversations.llm.simulator.script import MODEL_NAME, markdown_reply
from conversations.models import Conversation
from conversations.tokens import services as tokens
from tests.servers import running_servers
from tests.wsclient import LiveSocket, ReplyView, login_cookie

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180), pytest.mark.usefixtures("close_thread_connections")]

ENDLESS = "!sim tokens=100000 tps=50 ttft=0"


def seeded(seed: int, count: int = 30, tps: int = 1000) -> tuple[str, str]:
    """A prompt, and exactly the text the simulator answers it with."""
    return f"!sim tokens={count} seed={seed} tps={tps} ttft=0", "".join(markdown_reply(seed, count))


@pytest.fixture
def owner(transactional_db):
    return get_user_model().objects.create_user("dora", password="pw-dora-123")


@pytest.fixture
def secret(owner) -> str:
    return tokens.token_create(owner=owner, name="sdk")[1]


@pytest.fixture
def server(transactional_db, redis_url):
    with running_servers(1, REDIS_URL=redis_url, PARLEY_MAX_GENERATIONS_PER_USER="60") as servers:
        yield servers[0]


def sdk(server, secret: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{server.http_url}/v1", api_key=secret, max_retries=0, timeout=60)


def ask(content: str) -> list[dict]:
    return [{"role": "user", "content": content}]


async def streamed(stream) -> tuple[str, list]:
    chunks = [chunk async for chunk in stream]
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices), chunks


async def test_models_and_a_whole_completion(server, secret):
    client = sdk(server, secret)
    assert [model.id async for model in client.models.list()] == [MODEL_NAME]
    prompt, expected = seeded(1)
    completion = await client.chat.completions.create(model=MODEL_NAME, messages=ask(prompt))
    assert completion.choices[0].message.content == expected
    assert completion.choices[0].finish_reason == "stop" and completion.usage.completion_tokens == 30


async def test_the_streaming_loop_receives_exactly_the_simulators_text(server, secret):
    prompt, expected = seeded(2, count=300)
    stream = await sdk(server, secret).chat.completions.create(
        model=MODEL_NAME, messages=ask(prompt), stream=True, stream_options={"include_usage": True}
    )
    text, chunks = await streamed(stream)
    assert text == expected
    assert chunks[-2].choices[0].finish_reason == "stop" and chunks[-1].usage.completion_tokens == 300


async def test_errors_map_to_the_sdks_exceptions(server, secret):
    client = sdk(server, secret)
    with pytest.raises(openai.AuthenticationError):
        await sdk(server, "parley_wrong").models.list()
    with pytest.raises(openai.NotFoundError) as missing:
        await client.chat.completions.create(model="gpt-9", messages=ask("hi"))
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        await client.chat.completions.create(model=MODEL_NAME, messages=ask("hi"), temperature=7)
    assert bad.value.code == "invalid_request" and bad.value.param == "temperature"
    with pytest.raises(openai.APIError) as failed:  # a failure after text arrives as an error event
        await streamed(
            await client.chat.completions.create(
                model=MODEL_NAME, messages=ask("!sim tokens=50 tps=1000 ttft=0 error_after=10"), stream=True
            )
        )
    assert failed.value.code == "upstream_error"


async def test_the_cap_is_a_rate_limit_error(transactional_db, redis_url, secret):
    with running_servers(1, REDIS_URL=redis_url, PARLEY_MAX_GENERATIONS_PER_USER="1") as (server,):
        client = sdk(server, secret)
        stream = await client.chat.completions.create(model=MODEL_NAME, messages=ask(ENDLESS), stream=True)
        await anext(aiter(stream))
        with pytest.raises(openai.RateLimitError) as limited:
            await client.chat.completions.create(model=MODEL_NAME, messages=ask("hi"))
        assert limited.value.code == "limit_reached"
        await stream.close()


async def test_fifty_concurrent_streams_on_one_token_lose_nothing(server, secret):
    client = sdk(server, secret)
    prompts = [seeded(seed, count=200, tps=200) for seed in range(50)]

    async def one(prompt: str) -> str:
        stream = await client.chat.completions.create(model=MODEL_NAME, messages=ask(prompt), stream=True)
        return (await streamed(stream))[0]

    texts = await asyncio.gather(*(one(prompt) for prompt, _ in prompts))
    assert texts == [expected for _, expected in prompts]


@sync_to_async
def new_chat(owner) -> Conversation:
    return Conversation.objects.create(owner=owner, title="Watched")


async def test_a_saved_call_streams_to_a_watching_socket(server, owner, secret):
    chat = await new_chat(owner)
    socket = await LiveSocket.open(server, chat.id, await login_cookie(owner))
    view = ReplyView()
    view.apply(await socket.receive())
    prompt, expected = seeded(3, count=200, tps=300)
    response = await sdk(server, secret).chat.completions.with_raw_response.create(
        model=MODEL_NAME, messages=ask(prompt), stream=True, extra_headers={"X-Parley-Conversation": str(chat.id)}
    )
    assert response.headers["X-Parley-Conversation"] == str(chat.id)
    text, _ = await streamed(response.parse())
    for frame in await socket.receive_until("message.completed"):
        view.apply(frame)
    replies = [m for m in view.messages.values() if m["role"] == "assistant"]
    assert text == expected and [(r["content"], r["status"]) for r in replies] == [(expected, "complete")]
    assert not view.needs_sync
    await socket.close()


async def test_a_saved_call_stopped_in_the_browser_ends_with_stop(server, owner, secret):
    chat = await new_chat(owner)
    socket = await LiveSocket.open(server, chat.id, await login_cookie(owner))
    await socket.receive()
    stream = await sdk(server, secret).chat.completions.create(
        model=MODEL_NAME, messages=ask(ENDLESS), stream=True, extra_headers={"X-Parley-Conversation": str(chat.id)}
    )
    chunks = [await anext(aiter(stream)), await anext(aiter(stream))]
    await socket.send(type="generation.stop")
    text, rest = await streamed(stream)
    completed = (await socket.receive_until("message.completed"))[-1]["message"]
    assert completed["status"] == "cancelled"
    assert rest[-1].choices[0].finish_reason == "stop"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) + text == completed["content"]
    await socket.close()


async def test_a_new_saved_call_answers_its_conversation_id(server, owner, secret):
    prompt, expected = seeded(4)
    response = await sdk(server, secret).chat.completions.with_raw_response.create(
        model=MODEL_NAME, messages=ask(prompt), extra_headers={"X-Parley-Conversation": "new"}
    )
    conversation_id = response.headers["X-Parley-Conversation"]
    assert response.parse().choices[0].message.content == expected
    reply = await sync_to_async(lambda: Conversation.objects.get(id=conversation_id, owner=owner).messages.last())()
    assert (reply.role, reply.content, reply.status) == ("assistant", expected, "complete")
