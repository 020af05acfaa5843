"""The admin: conversations are browsable, searchable, filterable and exportable."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from conversations.models import Conversation

CHANGELIST = "/admin/conversations/conversation/"


@pytest.fixture
def chats(alice, bob, make_conversation) -> list[Conversation]:
    return [
        make_conversation(
            alice,
            title="Lisbon",
            system_prompt="Be a travel agent.",
            messages=[
                ("user", "Pastel de nata or pastel de bacalhau?"),
                ("assistant", "Both, a pastel each.", {"model": "sim-1", "prompt_tokens": 9, "completion_tokens": 5}),
                ("user", "And then?"),
                ("assistant", "Well", {"status": "failed", "error": "The model is down.", "model": "sim-1"}),
            ],
        ),
        make_conversation(bob, title="Taxes", messages=[("user", "Deadline?"), ("assistant", "April.")]),
    ]


def result_titles(response) -> list[str]:
    return sorted(conversation.title for conversation in response.context["cl"].result_list)


def test_changelist_renders_with_counts(admin_client, chats):
    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    assert result_titles(response) == ["Lisbon", "Taxes"]
    assert response.context["cl"].result_count == 2


def test_search_finds_message_text_once_per_conversation(admin_client, chats):
    response = admin_client.get(CHANGELIST, {"q": "pastel"})

    assert response.status_code == 200
    assert result_titles(response) == ["Lisbon"]
    assert response.context["cl"].result_count == 1


def test_search_finds_titles(admin_client, chats):
    assert result_titles(admin_client.get(CHANGELIST, {"q": "tax"})) == ["Taxes"]


@pytest.mark.parametrize(
    ("query", "titles"),
    [
        ({"messages__status": "failed"}, ["Lisbon"]),
        ({"messages__status": "complete"}, ["Lisbon", "Taxes"]),
        ({"messages__model": "sim-1"}, ["Lisbon"]),
        ({"created_at__gte": "2000-01-01 00:00:00+00:00"}, ["Lisbon", "Taxes"]),
    ],
)
def test_filters_narrow_the_list_without_duplicates(admin_client, chats, query, titles):
    response = admin_client.get(CHANGELIST, query)

    assert response.status_code == 200
    assert result_titles(response) == titles


def test_filter_by_owner(admin_client, chats, bob):
    response = admin_client.get(CHANGELIST, {"owner__id__exact": bob.id})

    assert result_titles(response) == ["Taxes"]


def test_change_page_shows_messages_inline(admin_client, chats):
    response = admin_client.get(f"{CHANGELIST}{chats[0].id}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Both, a pastel each." in page and "The model is down." in page
    assert response.context["inline_admin_formsets"][0].formset.queryset.count() == 4


def test_message_admin_renders(admin_client, chats):
    assert admin_client.get("/admin/conversations/message/", {"q": "April"}).status_code == 200
    message = chats[0].messages.get(position=1)
    assert admin_client.get(f"/admin/conversations/message/{message.id}/change/").status_code == 200


def test_non_staff_cannot_open_the_admin(alice_client):
    response = alice_client.get(CHANGELIST)

    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def export(admin_client, action: str, conversations: list[Conversation]):
    return admin_client.post(CHANGELIST, {"action": action, "_selected_action": [str(c.id) for c in conversations]})


def test_json_export_of_one_conversation_is_one_file(admin_client, chats, alice):
    lisbon = chats[0]

    response = export(admin_client, "export_as_json", [lisbon])

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == f'attachment; filename="conversation-{lisbon.id}.json"'
    document = json.loads(response.content)
    assert document["id"] == str(lisbon.id) and document["title"] == "Lisbon"
    assert document["owner"] == alice.username and document["system_prompt"] == "Be a travel agent."
    assert [m["content"] for m in document["messages"]] == [
        "Pastel de nata or pastel de bacalhau?", "Both, a pastel each.", "And then?", "Well",
    ]  # fmt: skip
    assert document["messages"][1]["usage"] == {
        "prompt_tokens": 9, "completion_tokens": 5, "cost_usd": None, "estimated": False
    }  # fmt: skip
    assert document["messages"][3]["status"] == "failed"


def test_markdown_export_of_one_conversation_is_a_transcript(admin_client, chats, alice):
    response = export(admin_client, "export_as_markdown", [chats[0]])

    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"].endswith(f'conversation-{chats[0].id}.md"')
    text = response.content.decode()
    assert text.startswith("# Lisbon\n")
    assert f"- Owner: {alice.username}" in text
    assert "## System prompt\n\nBe a travel agent." in text
    assert "## User\n\nPastel de nata or pastel de bacalhau?" in text
    assert "## Assistant\n\nBoth, a pastel each." in text
    assert "## Assistant (failed)\n\nWell\n\n> Error: The model is down." in text


@pytest.mark.parametrize(("action", "extension"), [("export_as_json", "json"), ("export_as_markdown", "md")])
def test_export_of_several_conversations_is_a_zip(admin_client, chats, action, extension):
    response = export(admin_client, action, chats)

    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="conversations-{extension}.zip"'
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = sorted(archive.namelist())
        contents = [archive.read(name).decode() for name in names]
    assert names == sorted(f"conversation-{c.id}.{extension}" for c in chats)
    assert any("Lisbon" in text for text in contents) and any("Taxes" in text for text in contents)
