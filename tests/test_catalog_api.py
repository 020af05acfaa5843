"""The model list, choosing a conversation's model and temperature, and group access on every surface."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from conversations.models import Conversation

from .catalog import add_model

pytestmark = pytest.mark.db
MODELS = "/api/models/"


def detail(conversation: Conversation) -> str:
    return f"/api/conversations/{conversation.id}/"


def patch(client, conversation, **body):
    return client.patch(detail(conversation), body, content_type="application/json")


@pytest.fixture
def catalog(db):
    """Two models open to everyone (one default), one for the "research" group, one disabled."""
    return {
        "open": add_model("sim", "sim-a", label="Sim A", is_default=True, tools=True),
        "other": add_model(
            "local", "qwen3-8b", kind="openai", base_url="http://127.0.0.1:9/v1", vision=True, position=1
        ),
        "research": add_model("sim", "sim-r", groups=("research",), position=2),
        "off": add_model("sim", "sim-off", enabled=False),
    }


def test_the_list_has_exactly_the_documented_fields_and_only_usable_models(alice_client, catalog):
    body = alice_client.get(MODELS).json()
    assert body == {
        "models": [
            {
                "id": catalog["open"].id,
                "label": "Sim A",
                "name": "sim-a",
                "provider": "sim",
                "default": True,
                "vision": False,
                "tools": True,
            },
            {
                "id": catalog["other"].id,
                "label": "QWEN3-8B",
                "name": "qwen3-8b",
                "provider": "local",
                "default": False,
                "vision": True,
                "tools": False,
            },
        ]
    }


def test_a_group_member_also_sees_the_groups_models(alice, alice_client, catalog):
    alice.groups.add(Group.objects.get(name="research"))
    names = [model["name"] for model in alice_client.get(MODELS).json()["models"]]
    assert names == ["sim-a", "qwen3-8b", "sim-r"]


def test_the_list_needs_a_login(client, catalog):
    assert client.get(MODELS).status_code == 401


def test_patch_sets_and_resets_the_model_and_temperature(alice_client, conversation, catalog):
    response = patch(alice_client, conversation, model=catalog["other"].id, temperature=0.3)
    assert response.status_code == 200
    assert (response.json()["model"], response.json()["temperature"]) == (catalog["other"].id, 0.3)
    conversation.refresh_from_db()
    assert (conversation.model_id, conversation.temperature) == (catalog["other"].id, 0.3)
    response = patch(alice_client, conversation, model=None, temperature=None)
    assert (response.json()["model"], response.json()["temperature"]) == (None, None)


@pytest.mark.parametrize("which", ["research", "off", "missing", "text", "true"])
def test_patch_refuses_a_model_the_user_may_not_use_and_changes_nothing(alice_client, conversation, catalog, which):
    value = {"missing": 999_999, "text": str(catalog["open"].id), "true": True}.get(which)
    value = catalog[which].id if value is None else value
    response = patch(alice_client, conversation, model=value, title="Renamed")
    assert response.status_code == 400
    assert response.json()["field"] == "model" and "GET /api/models/" in response.json()["error"]
    conversation.refresh_from_db()
    assert (conversation.model_id, conversation.title) == (None, "Alice's secrets")


@pytest.mark.parametrize("value", [-0.1, 2.5, "hot", True])
def test_patch_refuses_a_temperature_out_of_range(alice_client, conversation, catalog, value):
    response = patch(alice_client, conversation, temperature=value)
    assert response.status_code == 400 and response.json()["field"] == "temperature"


def test_a_new_conversation_may_start_with_a_model(alice_client, catalog):
    response = alice_client.post("/api/conversations/", {"model": catalog["other"].id}, content_type="application/json")
    assert response.status_code == 201 and response.json()["model"] == catalog["other"].id


def test_the_model_never_reveals_the_provider_key_or_url(alice_client, catalog, settings):
    settings.PARLEY_ENCRYPTION_KEY = ["8x7G8VbV-Jm0oNf3Dgqg1QmK6qJxw7mJ2u8jq3G1E1c="]
    provider = catalog["other"].provider
    provider.set_api_key("sk-live-abcdefghijklmnop")
    provider.save()
    text = alice_client.get(MODELS).content.decode()
    assert "sk-live" not in text and provider.api_key_encrypted not in text and "127.0.0.1:9" not in text
