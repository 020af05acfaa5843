"""The catalog in the admin: a write-only, encrypted API key that never comes back, key rotation,
and fetching a provider's model list from local servers of each kind."""

from __future__ import annotations

import logging
from io import StringIO

import pytest
from asgiref.sync import sync_to_async
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.test import AsyncClient

from conversations import crypto, generation
from conversations.llm import registry
from conversations.llm.config import ProviderConfig
from conversations.llm.errors import AuthenticationFailed
from conversations.llm.listing import list_models
from conversations.llm.simulator import start_simulator
from conversations.models import Conversation, LLMModel, Message, Provider
from tests.llm.conftest import ScriptedServer, json_reply

SECRET = "sk-live-0123456789abcdefXYZW"
OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def admin_client(db, client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    return client


@pytest.fixture
def encryption(settings):
    settings.PARLEY_ENCRYPTION_KEY = [OLD]
    return settings


@pytest.mark.db
def test_a_key_entered_in_the_admin_is_stored_encrypted_and_never_shown(admin_client, encryption, caplog):
    caplog.set_level(logging.DEBUG)
    form = {"name": "openai", "kind": "openai", "base_url": "https://api.example.com/v1", "api_key": SECRET}
    form |= {"api_key_env": "", "extra_headers": "{}", "models-TOTAL_FORMS": "0", "models-INITIAL_FORMS": "0"}
    response = admin_client.post("/admin/conversations/provider/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    provider = Provider.objects.get()
    assert SECRET not in provider.api_key_encrypted and provider.api_key() == SECRET
    pages = [admin_client.get(url).content.decode() for url in (
        "/admin/conversations/provider/", f"/admin/conversations/provider/{provider.id}/change/",
    )]  # fmt: skip
    for page in pages:
        assert SECRET not in page and SECRET[-12:] not in page and provider.api_key_encrypted not in page
    assert "…XYZW" in pages[0] and "…XYZW" in pages[1]
    assert SECRET not in caplog.text


@pytest.mark.db
def test_saving_without_a_key_keeps_it_and_clearing_removes_it(admin_client, encryption):
    provider = Provider.objects.create(name="p", kind="openai")
    provider.set_api_key(SECRET)
    provider.save()
    form = {"name": "p", "kind": "openai", "base_url": "", "api_key": "", "api_key_env": "", "extra_headers": "{}"}
    form |= {"models-TOTAL_FORMS": "0", "models-INITIAL_FORMS": "0"}
    admin_client.post(f"/admin/conversations/provider/{provider.id}/change/", form)
    provider.refresh_from_db()
    assert provider.api_key() == SECRET
    admin_client.post(f"/admin/conversations/provider/{provider.id}/change/", form | {"clear_api_key": "on"})
    provider.refresh_from_db()
    assert (provider.api_key(), provider.api_key_hint) == ("", "")


@pytest.mark.db
def test_a_key_without_an_encryption_key_is_refused_with_the_reason(admin_client, settings):
    settings.PARLEY_ENCRYPTION_KEY = []
    form = {"name": "p", "kind": "openai", "base_url": "", "api_key": SECRET, "api_key_env": "", "extra_headers": "{}"}
    response = admin_client.post("/admin/conversations/provider/add/", form)
    assert response.status_code == 200 and "PARLEY_ENCRYPTION_KEY is not set" in response.content.decode()
    assert not Provider.objects.exists()


@pytest.mark.db
def test_rotation_re_encrypts_with_the_new_key_so_the_old_one_can_go(db, encryption):
    provider = Provider.objects.create(name="p", kind="openai")
    provider.set_api_key(SECRET)
    provider.save()
    encryption.PARLEY_ENCRYPTION_KEY = [NEW, OLD]
    call_command("rotate_api_keys", stdout=StringIO())
    encryption.PARLEY_ENCRYPTION_KEY = [NEW]
    provider.refresh_from_db()
    assert provider.api_key() == SECRET
    encryption.PARLEY_ENCRYPTION_KEY = [OLD]
    with pytest.raises(crypto.SecretUnreadable):
        provider.api_key()


@pytest.mark.django_db(transaction=True)
async def test_a_key_that_cannot_be_decrypted_fails_the_reply_clearly(worker, alice, encryption, caplog):
    @sync_to_async
    def conversation_on_a_keyed_model() -> Conversation:
        provider = Provider.objects.create(name="p", kind="openai", base_url="http://127.0.0.1:9/v1")
        provider.set_api_key(SECRET)
        provider.save()
        model = LLMModel.objects.create(provider=provider, name="m", is_default=True)
        return Conversation.objects.create(owner=alice, model=model)

    conversation = await conversation_on_a_keyed_model()
    encryption.PARLEY_ENCRYPTION_KEY = [NEW]  # the old key was lost
    started = await generation.start(user=alice, conversation_id=conversation.id, content="hi", request_id="r1")
    await worker.running[str(started.reply.id)].task
    reply = await Message.objects.aget(id=started.reply.id)
    assert (reply.status, reply.error) == ("failed", generation.KEY_UNREADABLE)
    assert SECRET not in caplog.text


# --- Fetching a provider's model list -------------------------------------------------


def provider_of(kind: str, base_url: str, api_key: str = "") -> object:
    return registry.get_provider(kind, ProviderConfig(base_url=base_url, api_key=api_key))


async def test_an_openai_compatible_list_is_read_from_v1_models():
    server = await ScriptedServer([json_reply(200, {"data": [{"id": "gpt-a"}, {"id": "gpt-b"}]})]).start()
    try:
        assert await list_models(provider_of("openai", server.url + "/v1", "k")) == ["gpt-a", "gpt-b"]
        assert server.requests[0]["line"] == "GET /v1/models HTTP/1.1"
        assert server.requests[0]["headers"]["authorization"] == "Bearer k"
    finally:
        await server.close()


async def test_an_ollama_list_is_read_from_api_tags():
    server = await ScriptedServer([json_reply(200, {"models": [{"name": "llama3.2:latest"}]})]).start()
    try:
        assert await list_models(provider_of("ollama", server.url)) == ["llama3.2:latest"]
        assert server.requests[0]["line"] == "GET /api/tags HTTP/1.1"
    finally:
        await server.close()


async def test_an_anthropic_list_is_read_page_by_page():
    pages = [
        json_reply(200, {"data": [{"id": "claude-a"}], "has_more": True, "last_id": "claude-a"}),
        json_reply(200, {"data": [{"id": "claude-b"}], "has_more": False, "last_id": "claude-b"}),
    ]
    server = await ScriptedServer(pages).start()
    try:
        assert await list_models(provider_of("anthropic", server.url, "k")) == ["claude-a", "claude-b"]
        assert server.requests[1]["line"] == "GET /v1/models?limit=1000&after_id=claude-a HTTP/1.1"
        assert server.requests[0]["headers"]["x-api-key"] == "k"
    finally:
        await server.close()


async def test_the_simulator_lists_its_model_and_a_refusal_is_typed():
    simulator = await start_simulator("127.0.0.1", 0, tps=0, ttft=0)
    refusing = await ScriptedServer([json_reply(401, {"error": {"message": "bad key"}})]).start()
    try:
        url = f"http://127.0.0.1:{simulator.port}/v1"
        assert await list_models(provider_of("simulator", url)) == ["parley-simulator"]
        with pytest.raises(AuthenticationFailed, match="bad key"):
            await list_models(provider_of("openai", refusing.url))
    finally:
        simulator.close()
        await refusing.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_the_admin_action_adds_new_models_disabled_and_says_which(django_user_model):
    server = await ScriptedServer([json_reply(200, {"data": [{"id": "known"}, {"id": "fresh"}]})]).start()
    try:

        @sync_to_async
        def setup() -> tuple:
            root = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
            provider = Provider.objects.create(name="local", kind="openai", base_url=server.url + "/v1")
            LLMModel.objects.create(provider=provider, name="known")
            return root, provider

        root, provider = await setup()
        admin = AsyncClient()
        await admin.aforce_login(root)
        form = {"action": "fetch_model_list", "_selected_action": [str(provider.id)]}
        response = await admin.post("/admin/conversations/provider/", form, follow=True)
        assert "1 new model(s), added disabled: fresh." in response.content.decode()
        rows = [(m.name, m.enabled) async for m in LLMModel.objects.order_by("name")]
        assert rows == [("fresh", False), ("known", True)]
    finally:
        await server.close()
