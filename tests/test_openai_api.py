"""The /v1/ API in process: every error code, both response shapes, the cap, revocation and expiry
mid-stream, and saved calls. The official SDK against a live server is in tests/test_openai_sdk.py."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.contrib.auth.models import Group
from django.test import AsyncClient
from django.utils import timezone

from conversations import generation
from conversations.catalog.environment import ensure_catalog
from conversations.llm.simulator.script import MODEL_NAME, markdown_reply
from conversations.models import ApiCall, ApiToken, Budget, Conversation, LLMModel, Message, Provider, UsageRecord
from conversations.openai_api.calls import Call
from conversations.openai_api.persisted import follow
from conversations.openai_api.watch import get_watcher
from conversations.tokens import services as tokens

pytestmark = [
    pytest.mark.db,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_thread_connections"),
]

URL = "/v1/chat/completions"
SEEDED = "!sim tokens=30 seed=7 tps=2000 ttft=0"
EXPECTED = "".join(markdown_reply(7, 30))
ENDLESS = "!sim tokens=100000 tps=50 ttft=0"


@pytest.fixture
async def secret(alice) -> str:
    return (await sync_to_async(tokens.token_create)(owner=alice, name="tests"))[1]


class Api:
    """An async test client sending one Authorization header (AsyncClient's own `headers` skips the scope).

    Each request runs in a ThreadSensitiveContext, as Django's ASGIHandler runs it under daphne (the
    test handler does not): the request's thread-sensitive calls then get a thread of its own, not
    the one the generation worker's database calls share.
    """

    def __init__(self, authorization: str | None, client: AsyncClient | None = None) -> None:
        self.client = client or AsyncClient()
        self.auth = {"Authorization": authorization} if authorization else {}

    async def get(self, url: str):
        async with ThreadSensitiveContext():
            return await self.client.get(url, headers=self.auth)

    async def post(self, url: str, data="", **headers):
        async with ThreadSensitiveContext():
            return await self.client.post(url, data, content_type="application/json", headers={**self.auth, **headers})


@pytest.fixture
def api(secret) -> Api:
    return Api(f"Bearer {secret}")


def body(content: str = SEEDED, **fields) -> dict:
    return {"model": MODEL_NAME, "messages": [{"role": "user", "content": content}], **fields}


async def post(api: Api, data, **headers):
    payload = data if isinstance(data, str | bytes) else json.dumps(data)
    return await api.post(URL, payload, **headers)


async def events(response) -> list:
    """The SSE payloads of a streaming response, decoded ("[DONE]" kept as a string)."""
    raw = b"".join([part async for part in response.streaming_content]).decode()
    return [line[6:] if line == "data: [DONE]" else json.loads(line[6:]) for line in raw.split("\n\n") if line]


class Reader:
    """Reads a streaming response one SSE payload at a time, to act while it is still open."""

    def __init__(self, response) -> None:
        self.parts = aiter(response.streaming_content)
        self.pending: list[str] = []

    async def next(self):
        while not self.pending:
            self.pending = [line for line in (await anext(self.parts)).decode().split("\n\n") if line]
        line = self.pending.pop(0)
        return line[6:] if line == "data: [DONE]" else json.loads(line[6:])

    async def disconnect(self) -> None:
        """Go away as a client does: Django cancels the response while it waits for the next text."""
        while True:
            pending = asyncio.ensure_future(anext(self.parts))
            await asyncio.sleep(0)  # one loop turn, so it is waiting inside the response
            pending.cancel()
            try:
                await pending
            except asyncio.CancelledError:
                return

    async def rest(self) -> list:
        out = []
        try:
            while True:
                out.append(await self.next())
        except StopAsyncIteration:
            return out


def text_of(payloads: list) -> str:
    return "".join(
        p["choices"][0]["delta"].get("content") or "" for p in payloads if isinstance(p, dict) and p.get("choices")
    )


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"} and error["code"] == code and error["message"]


async def slots_held(user) -> int:
    return await ApiCall.objects.filter(owner=user).acount()


async def calls_ended(worker) -> None:
    """Wait until this process's API call tasks, producers and then their slot releases, have ended."""
    async with asyncio.timeout(10):
        while pending := [task for task in worker.tasks if task.get_name().startswith("parley-api-")]:
            await asyncio.wait(pending)


# --- authentication and errors ------------------------------------------------------------


async def test_models_lists_the_catalog_models_the_user_may_use(api):
    response = await api.get("/v1/models")
    assert response.status_code == 200
    assert response.json() == {
        "object": "list",
        "data": [{"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "parley"}],
    }


async def test_group_access_applies_and_shared_names_are_qualified(api, alice, worker):
    await sync_to_async(ensure_catalog)()
    staff = await Group.objects.acreate(name="staff")
    other = await Provider.objects.acreate(name="other", kind=Provider.Kind.SIMULATOR)
    shared = await LLMModel.objects.acreate(provider=other, name=MODEL_NAME, position=2)
    hidden = await LLMModel.objects.acreate(provider=other, name="staff-only", position=3)
    await sync_to_async(hidden.allowed_groups.add)(staff)
    ids = [model["id"] for model in (await api.get("/v1/models")).json()["data"]]
    assert ids == [f"simulator/{MODEL_NAME}", f"other/{MODEL_NAME}"]
    assert_error(await post(api, body() | {"model": "staff-only"}), 404, "model_not_found")
    assert_error(await post(api, body() | {"model": MODEL_NAME}), 404, "model_not_found")  # ambiguous
    data = (await post(api, body() | {"model": f"other/{MODEL_NAME}"})).json()
    assert data["choices"][0]["message"]["content"] == EXPECTED and shared.enabled
    await sync_to_async(alice.groups.add)(staff)
    assert "staff-only" in [m["id"] for m in (await api.get("/v1/models")).json()["data"]]


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic abc", "Bearer parley_wrong"])
async def test_a_missing_or_wrong_token_is_401(header, alice_client):
    client = Api(header)
    client.client.cookies = alice_client.cookies  # a logged-in session is not an API credential
    for response in (await client.get("/v1/models"), await post(client, body())):
        assert_error(response, 401, "invalid_api_key")
        assert response["WWW-Authenticate"].startswith("Bearer")


async def test_revoked_and_expired_tokens_are_401(alice, api, secret):
    token = await ApiToken.objects.aget(owner=alice)
    token.expires_at = timezone.now() - timedelta(seconds=1)
    await token.asave()
    assert_error(await api.get("/v1/models"), 401, "invalid_api_key")
    token.expires_at, token.revoked_at = None, timezone.now()
    await token.asave()
    assert_error(await post(api, body()), 401, "invalid_api_key")


@pytest.mark.parametrize(
    ("data", "param"),
    [
        ("{nope", None),
        ("[1, 2]", None),
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        (body() | {"messages": []}, "messages"),
        (body() | {"messages": [{"role": "robot", "content": "hi"}]}, "messages[0]"),
        (body() | {"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        (body() | {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "messages[0].content"),
        (body() | {"messages": [{"role": "assistant", "content": "hi"}]}, "messages"),
        (body(temperature=3), "temperature"),
        (body(temperature="hot"), "temperature"),
        (body(max_tokens=0), "max_tokens"),
        (body(max_tokens=True), "max_tokens"),
        (body(stream="yes"), "stream"),
        (body(stream=True, stream_options=[]), "stream_options"),
        ('{"model": "m", "messages": [{"role": "user", "content": "\\ud800"}]}', "messages[0].content"),
    ],
)
async def test_malformed_requests_are_400_and_name_the_field(api, alice, data, param):
    response = await post(api, data)
    assert_error(response, 400, "invalid_request")
    assert response.json()["error"]["param"] == param
    assert await slots_held(alice) == 0 and not await Conversation.objects.aexists()


async def test_an_oversized_body_is_400(api, settings):
    settings.PARLEY_API_MAX_BODY = 100
    assert_error(await post(api, body("x" * 200)), 400, "invalid_request")


async def test_an_unknown_model_is_404(api):
    response = await post(api, body() | {"model": "gpt-9"})
    assert_error(response, 404, "model_not_found")
    assert response.json()["error"]["param"] == "model"


async def test_wrong_methods_are_405(api):
    assert_error(await api.get(URL), 405, "method_not_allowed")
    assert_error(await api.post("/v1/models"), 405, "method_not_allowed")


# --- completions ---------------------------------------------------------------------------


async def test_a_whole_completion_is_the_simulators_text(api, alice, worker):
    response = await post(api, body(user="ignored", top_p=0.5, n=1))  # unknown fields are ignored
    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "chat.completion" and data["model"] == MODEL_NAME
    assert data["choices"][0]["message"] == {"role": "assistant", "content": EXPECTED}
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["usage"]["completion_tokens"] == 30
    assert "X-Parley-Conversation" not in response
    await calls_ended(worker)
    assert await slots_held(alice) == 0
    assert not await Conversation.objects.aexists()  # nothing is saved without the header


async def test_max_tokens_is_honoured(api, worker):
    data = (await post(api, body(max_tokens=5))).json()
    assert data["choices"][0]["finish_reason"] == "length"
    assert data["choices"][0]["message"]["content"] == "".join(markdown_reply(7, 30)[:5])


async def test_a_stream_is_the_simulators_text_then_usage_and_done(api, worker):
    response = await post(api, body(stream=True, stream_options={"include_usage": True}))
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    payloads = await events(response)
    assert payloads[-1] == "[DONE]"
    chunks = payloads[:-1]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert text_of(chunks) == EXPECTED
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 30
    assert {chunk["id"] for chunk in chunks} == {chunks[0]["id"]}


async def test_a_stream_without_include_usage_has_no_usage_chunk(api, worker):
    payloads = await events(await post(api, body(stream=True)))
    assert payloads[-1] == "[DONE]" and all(p["choices"] for p in payloads[:-1])


async def test_an_upstream_failure_before_any_text_keeps_its_status(api, alice, worker):
    response = await post(api, body("!sim fail=500 fail_times=9"))
    assert_error(response, 502, "upstream_error")
    await calls_ended(worker)
    assert await slots_held(alice) == 0


async def test_an_upstream_failure_mid_stream_is_an_error_event(api, worker):
    payloads = await events(await post(api, body("!sim tokens=50 tps=2000 ttft=0 error_after=10", stream=True)))
    assert "[DONE]" not in payloads and payloads[-1]["error"]["code"] == "upstream_error"
    assert text_of(payloads[:-1])


# --- the per-user cap, shared with the socket -------------------------------------------------


async def test_the_cap_counts_api_calls_and_replies_alike(api, alice, settings, worker):
    settings.PARLEY_MAX_GENERATIONS_PER_USER = 1
    reader = Reader(await post(api, body(ENDLESS, stream=True)))
    await reader.next()
    assert_error(await post(api, body()), 429, "limit_reached")
    chat = await Conversation.objects.acreate(owner=alice)
    with pytest.raises(generation.Refused) as refused:  # the socket's path sees the API call too
        await generation.start(user=alice, conversation_id=chat.id, content="hi", request_id="r1")
    assert refused.value.code == "limit_reached"
    await reader.disconnect()  # the client goes away: the upstream call stops, the slot frees
    await calls_ended(worker)
    assert await slots_held(alice) == 0
    assert (await post(api, body())).status_code == 200


async def test_an_unsaved_call_is_charged_and_a_used_up_budget_is_429(api, alice, worker):
    assert (await post(api, body())).status_code == 200
    await calls_ended(worker)
    record = await UsageRecord.objects.aget(user=alice)
    assert (record.completion_tokens, record.message_id, record.upstream_model) == (30, None, MODEL_NAME)
    await Budget.objects.acreate(user=alice, monthly_tokens=record.prompt_tokens + record.completion_tokens)
    assert_error(await post(api, body()), 429, "quota_exceeded")
    assert_error(await post(api, body(), **{"X-Parley-Conversation": "new"}), 429, "quota_exceeded")


# --- tokens ending mid-stream -------------------------------------------------------------


async def test_revoking_a_token_ends_its_streams_at_once(api, alice, worker):
    reader = Reader(await post(api, body(ENDLESS, stream=True)))
    await reader.next()
    token = await ApiToken.objects.aget(owner=alice)
    assert await sync_to_async(tokens.token_revoke)(owner=alice, token_id=token.id)
    rest = await asyncio.wait_for(reader.rest(), 10)
    assert rest[-1]["error"]["code"] == "invalid_api_key" and "[DONE]" not in rest
    await calls_ended(worker)
    assert await slots_held(alice) == 0


async def test_a_token_expired_by_an_edit_ends_its_streams_at_once(api, alice, worker):
    reader = Reader(await post(api, body(ENDLESS, stream=True)))
    await reader.next()
    token = await ApiToken.objects.aget(owner=alice)
    token.expires_at = timezone.now() - timedelta(seconds=1)
    await token.asave()  # as the admin saves it
    rest = await asyncio.wait_for(reader.rest(), 10)
    assert rest[-1]["error"]["code"] == "invalid_api_key" and "[DONE]" not in rest


async def test_each_call_is_timed_to_end_when_its_token_expires(alice, worker):
    token, _ = await sync_to_async(tokens.token_create)(owner=alice, name="brief", expires_in_days=1)
    watcher, loop = await get_watcher(), asyncio.get_running_loop()
    call = Call(MODEL_NAME, str(token.id))
    watcher.watch(call, token)
    assert call.expiry.when() - loop.time() == pytest.approx(86400, abs=60)
    watcher.forget(call)
    token.expires_at = timezone.now()  # expired while the call was being set up: cut at once
    late = Call(MODEL_NAME, str(token.id))
    watcher.watch(late, token)
    _, end = await asyncio.wait_for(late.collect(), 10)
    assert end.error["code"] == "invalid_api_key"


async def test_an_expiry_moved_earlier_ends_the_tokens_streams_then(api, alice, worker):
    reader = Reader(await post(api, body(ENDLESS, stream=True)))
    await reader.next()
    token = await ApiToken.objects.aget(owner=alice)
    token.expires_at = timezone.now() + timedelta(seconds=2)  # still usable: only the timer can end the stream
    await token.asave()
    rest = await asyncio.wait_for(reader.rest(), 30)
    assert rest[-1]["error"]["code"] == "invalid_api_key" and "[DONE]" not in rest


async def until_timed(call: Call, expected) -> None:
    """Wait until the announced change reached the watcher and `expected(call.expiry)` holds."""
    async with asyncio.timeout(10):
        while True:
            if expected(call.expiry):
                return
            await asyncio.sleep(0.01)  # the change arrives through the channel layer


async def test_an_expiry_moved_later_or_cleared_moves_each_calls_timer(alice, worker):
    token, _ = await sync_to_async(tokens.token_create)(owner=alice, name="brief", expires_in_days=1)
    watcher, loop = await get_watcher(), asyncio.get_running_loop()
    call = Call(MODEL_NAME, str(token.id))
    watcher.watch(call, token)
    token.expires_at = timezone.now() + timedelta(days=30)
    await token.asave()
    await until_timed(call, lambda timer: timer is not None and timer.when() - loop.time() > 29 * 86400)
    token.expires_at = None
    await token.asave()
    await until_timed(call, lambda timer: timer is None)
    assert not call.ended
    watcher.forget(call)


# --- saved calls ---------------------------------------------------------------------------


async def reply_in(conversation_id) -> Message:
    return await Message.objects.filter(conversation_id=conversation_id, role="assistant").alast()


async def test_a_call_saved_in_a_new_conversation(api, alice, worker):
    data = body(SEEDED) | {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Earlier question"},
            {"role": "assistant", "content": "Earlier answer"},
            {"role": "user", "content": SEEDED},
        ]
    }
    response = await post(api, data, **{"X-Parley-Conversation": "new"})
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == EXPECTED
    chat = await Conversation.objects.aget(id=response["X-Parley-Conversation"])
    assert chat.owner_id == alice.id and chat.system_prompt == "Be brief." and chat.title == "Earlier question"
    messages = [(m.role, m.content, m.status) async for m in chat.messages.order_by("position")]
    assert messages == [
        ("user", "Earlier question", "complete"),
        ("assistant", "Earlier answer", "complete"),
        ("user", SEEDED, "complete"),
        ("assistant", EXPECTED, "complete"),
    ]


async def test_a_saved_call_streams_into_an_existing_conversation(api, alice, worker):
    chat = await Conversation.objects.acreate(owner=alice)
    response = await post(api, body(stream=True), **{"X-Parley-Conversation": str(chat.id)})
    assert response["X-Parley-Conversation"] == str(chat.id)
    payloads = await events(response)
    assert text_of(payloads) == EXPECTED and payloads[-1] == "[DONE]"
    assert (await reply_in(chat.id)).content == EXPECTED


@pytest.mark.parametrize("target", ["nope", "00000000-0000-0000-0000-000000000000", "bobs"])
async def test_a_saved_call_into_a_conversation_not_yours_is_404(api, bob, target):
    if target == "bobs":
        target = str((await Conversation.objects.acreate(owner=bob)).id)
    assert_error(await post(api, body(), **{"X-Parley-Conversation": target}), 404, "conversation_not_found")
    assert not await Message.objects.aexists()


async def test_a_saved_reply_stopped_elsewhere_ends_the_stream_with_stop(api, alice, worker):
    chat = await Conversation.objects.acreate(owner=alice)
    reader = Reader(await post(api, body(ENDLESS, stream=True), **{"X-Parley-Conversation": str(chat.id)}))
    await reader.next()
    streamed = text_of([await reader.next()])
    await generation.stop(user=alice, conversation_id=chat.id)
    rest = await asyncio.wait_for(reader.rest(), 10)
    assert rest[-1] == "[DONE]" and rest[-2]["choices"][0]["finish_reason"] == "stop"
    reply = await reply_in(chat.id)
    assert reply.status == "cancelled" and reply.content == streamed + text_of(rest)


async def test_a_saved_reply_survives_its_client_leaving(api, alice, worker):
    chat = await Conversation.objects.acreate(owner=alice)
    reader = Reader(
        await post(
            api, body(SEEDED.replace("tps=2000", "tps=100"), stream=True), **{"X-Parley-Conversation": str(chat.id)}
        )
    )
    await reader.next()
    await reader.disconnect()
    reply = await reply_in(chat.id)
    await asyncio.wait_for(asyncio.gather(worker.running[str(reply.id)].task, return_exceptions=True), 10)
    reply = await reply_in(chat.id)
    assert reply.status == "complete" and reply.content == EXPECTED


async def test_a_busy_conversation_is_409(api, alice, worker):
    chat = await Conversation.objects.acreate(owner=alice)
    reader = Reader(await post(api, body(ENDLESS, stream=True), **{"X-Parley-Conversation": str(chat.id)}))
    await reader.next()
    assert_error(await post(api, body(), **{"X-Parley-Conversation": str(chat.id)}), 409, "busy")
    await generation.stop(user=alice, conversation_id=chat.id)
    await reader.rest()


async def test_a_saved_call_whose_final_frame_was_lost_ends_from_the_database(alice, settings, worker):
    settings.PARLEY_STALE_AFTER = 0.2  # how long the call waits in silence before it asks the database
    chat = await Conversation.objects.acreate(owner=alice)
    reply = await Message.objects.acreate(
        conversation=chat, position=0, role="assistant", content="done", status="complete"
    )
    call = Call(MODEL_NAME, "token")
    channel = await worker.layer.new_channel("test.")  # joined to no group: nothing will ever arrive
    reply_id = str(reply.id)
    call.producer = asyncio.ensure_future(follow(call, worker.layer, "test-group", channel, reply_id))
    text, end = await asyncio.wait_for(call.collect(), 10)
    assert (text, end.finish_reason, end.error) == ("done", "stop", None)
    await reply.adelete()
    gone = Call(MODEL_NAME, "token")
    gone.producer = asyncio.ensure_future(follow(gone, worker.layer, "test-group", channel, reply_id))
    _, end = await asyncio.wait_for(gone.collect(), 10)
    assert end.error["code"] == "reply_failed"
