"""Which tools a model is offered: every local and MCP tool for a model flagged `tools`, unless an
admin narrows its `allowed_tools` (in the admin, or a models file); the socket path and the saved
/v1/ path run the same tool loop, so both see the same narrowing."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from asgiref.sync import sync_to_async

from conversations import generation
from conversations.catalog.environment import ensure_catalog
from conversations.catalog.loader import ModelsFileError, load_models
from conversations.llm.base import ToolSpec
from conversations.llm.simulator.script import MODEL_NAME
from conversations.mcp import toolbox
from conversations.models import Conversation, LLMModel, McpServer, Message
from conversations.tokens import services as tokens
from conversations.tools import registry
from conversations.tools.offered import narrowed, offered_tools
from conversations.tools.registry import Tool
from tests.servers import free_port
from tests.test_openai_api import Api

LOCAL = ["conversations.tools.examples.calculate", "conversations.tools.examples.current_time"]
ASK_CALCULATE = '!sim tool=calculate:{"expression":"6*7"} tps=0 ttft=0\nSix sevens?'


def tool(name: str, server: str = "") -> Tool:
    return Tool(lambda: None, ToolSpec(name, "d", {}), is_async=False, server=server)


TOOLS = {t.name: t for t in (tool("calculate"), tool("files__read", "files"), tool("files__write", "files"))}


@pytest.mark.parametrize(
    ("allowed", "offered"),
    [
        (set(), {"calculate", "files__read", "files__write"}),
        ({"calculate"}, {"calculate"}),
        ({"mcp:files"}, {"files__read", "files__write"}),
        ({"files__read", "calculate"}, {"calculate", "files__read"}),
        ({"mcp:other", "gone"}, set()),
    ],
)
def test_allowed_tools_name_tools_or_whole_mcp_servers(allowed, offered):
    assert set(narrowed(TOOLS, allowed)) == offered


@pytest.fixture
def local_tools(settings):
    settings.PARLEY_TOOLS = LOCAL
    toolbox.reset()
    yield
    registry.load_tools.cache_clear()
    toolbox.reset()


@sync_to_async
def simulator_model(**fields) -> LLMModel:
    ensure_catalog()
    model = LLMModel.objects.get(is_default=True)
    LLMModel.objects.filter(id=model.id).update(**fields)
    return LLMModel.objects.get(id=model.id)


@pytest.mark.django_db(transaction=True)
async def test_a_model_narrowed_to_local_tools_never_waits_on_an_mcp_server(local_tools):
    down = await McpServer.objects.acreate(name="down", url=f"http://127.0.0.1:{free_port()}/mcp")
    model = await simulator_model(allowed_tools=["current_time"])
    assert set(await offered_tools(model)) == {"current_time"}
    assert (await McpServer.objects.aget(id=down.id)).last_error == ""  # never listed, so never found down
    wide = await simulator_model(allowed_tools=[])
    assert set(await offered_tools(wide)) == {"calculate", "current_time"}
    assert (await McpServer.objects.aget(id=down.id)).last_error  # listed, found down, left out


@pytest.mark.django_db(transaction=True)
async def test_a_model_without_the_tools_flag_is_offered_nothing(local_tools):
    model = await simulator_model(tools=False, allowed_tools=["calculate"])
    assert await offered_tools(model) == {}


async def reply_of(worker, started) -> Message:
    running = worker.running.get(str(started.reply.id))
    if running is not None:
        await asyncio.wait_for(asyncio.gather(running.task, return_exceptions=True), 20)
    return await Message.objects.aget(id=started.reply.id)


@pytest.mark.django_db(transaction=True)
async def test_a_narrowed_model_cannot_call_a_tool_left_out_on_the_socket_path(worker, alice, local_tools):
    await simulator_model(allowed_tools=["current_time"])
    conversation = await Conversation.objects.acreate(owner=alice, title="Tools")
    started = await generation.start(
        user=alice, conversation_id=conversation.id, content=ASK_CALCULATE, request_id="r1"
    )
    reply = await reply_of(worker, started)
    result = reply.parts[1]
    assert (
        result["is_error"] and result["content"] == "There is no tool named 'calculate'; the tools are: current_time."
    )


@pytest.mark.django_db(transaction=True)
async def test_the_saved_v1_path_offers_the_same_narrowed_tools(worker, alice, local_tools):
    await simulator_model(allowed_tools=["current_time"])
    secret = (await sync_to_async(tokens.token_create)(owner=alice, name="tests"))[1]
    body = {"model": MODEL_NAME, "messages": [{"role": "user", "content": ASK_CALCULATE}]}
    api = Api(f"Bearer {secret}")
    response = await api.post("/v1/chat/completions", json.dumps(body), **{"X-Parley-Conversation": "new"})
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == (
        "Tool result: There is no tool named 'calculate'; the tools are: current_time.."
    )


@pytest.mark.django_db(transaction=True)
async def test_a_model_offered_all_tools_calls_any_of_them(worker, alice, local_tools):
    await simulator_model(allowed_tools=[])
    conversation = await Conversation.objects.acreate(owner=alice, title="Tools")
    started = await generation.start(
        user=alice, conversation_id=conversation.id, content=ASK_CALCULATE, request_id="r1"
    )
    reply = await reply_of(worker, started)
    assert reply.content == "Tool result: 42."


@pytest.fixture
def admin_client(db, client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    return client


def change_form(model: LLMModel, **changes) -> dict:
    form = {
        "provider": model.provider_id, "name": model.name, "label": model.label, "context_window": "",
        "vision": "on", "tools": "on", "input_per_mtok": "0", "output_per_mtok": "0", "enabled": "on",
        "position": "0",
    }  # fmt: skip
    return {**form, **changes}


@pytest.mark.db
def test_the_admin_ticks_local_tools_and_mcp_servers_and_none_means_all(admin_client, local_tools):
    ensure_catalog()
    McpServer.objects.create(name="files", url="http://127.0.0.1:9/mcp")
    model = LLMModel.objects.get(is_default=True)
    url = f"/admin/conversations/llmmodel/{model.id}/change/"
    page = admin_client.get(url).content.decode()
    for value in ("calculate", "current_time", "mcp:files"):
        assert f'type="checkbox" name="allowed_tools" value="{value}"' in page
    assert "every tool of the MCP server files" in page and "none ticked offers all of them" in page

    response = admin_client.post(url, change_form(model, allowed_tools=["calculate", "mcp:files"]))
    assert response.status_code == 302, response.content.decode()[:3000]
    model.refresh_from_db()
    assert model.allowed_tools == ["calculate", "mcp:files"]
    assert "calculate, mcp:files" in admin_client.get("/admin/conversations/llmmodel/").content.decode()

    assert admin_client.post(url, change_form(model)).status_code == 302
    model.refresh_from_db()
    assert model.allowed_tools == []


@pytest.mark.db
def test_an_entry_no_longer_available_stays_ticked_until_an_admin_unticks_it(admin_client, local_tools):
    ensure_catalog()
    model = LLMModel.objects.get(is_default=True)
    LLMModel.objects.filter(id=model.id).update(allowed_tools=["retired_tool"])
    page = admin_client.get(f"/admin/conversations/llmmodel/{model.id}/change/").content.decode()
    assert re.search(r'<input type="checkbox" name="allowed_tools" value="retired_tool"[^>]* checked>', page)
    assert "retired_tool (not available now)" in page
    response = admin_client.post(
        f"/admin/conversations/llmmodel/{model.id}/change/", change_form(model, allowed_tools=["retired_tool"])
    )
    assert response.status_code == 302
    model.refresh_from_db()
    assert model.allowed_tools == ["retired_tool"]


@pytest.mark.db
def test_a_models_file_sets_allowed_tools_and_refuses_a_bad_list(db):
    data = {
        "providers": [{"name": "local", "kind": "simulator"}],
        "models": [{"provider": "local", "name": "m", "tools": True, "allowed_tools": ["calculate", "mcp:files"]}],
    }
    load_models(data)
    assert LLMModel.objects.get(name="m").allowed_tools == ["calculate", "mcp:files"]
    data["models"][0]["allowed_tools"] = "calculate"
    with pytest.raises(ModelsFileError, match=r"models\[0\]: allowed_tools must be a list of tool names"):
        load_models(data)
