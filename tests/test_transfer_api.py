"""Export and import over HTTP: downloads for their owner only, and imports that save all or nothing."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from conversations.models import Conversation, Message

pytestmark = pytest.mark.db

CHATGPT = Path(__file__).parent / "imports" / "chatgpt_conversations.json"


@pytest.fixture
def branched(alice, make_conversation) -> Conversation:
    """A question answered twice: the second answer is the branch shown."""
    conversation = make_conversation(
        alice, title="Lisbon: a day?", messages=[("user", "Where to?"), ("assistant", "Belém")]
    )
    question = conversation.messages.get(position=0)
    second = Message.objects.create(
        conversation=conversation, parent=question, position=2, role="assistant", content="Alfama"
    )
    Conversation.objects.filter(id=conversation.id).update(active_leaf=second)
    return conversation


def export(client, conversation, fmt: str | None = None):
    query = f"?format={fmt}" if fmt else ""
    return client.get(f"/api/conversations/{conversation.id}/export/{query}")


def post_import(client, data: bytes, content_type: str = "application/json"):
    return client.post("/api/imports/", data=data, content_type=content_type)


def test_json_export_holds_every_branch_and_the_one_shown(alice_client, branched):
    response = export(alice_client, branched)

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == f'attachment; filename="lisbon-a-day-{str(branched.id)[:8]}.json"'
    document = json.loads(response.content)
    assert (document["format"], document["version"]) == ("parley.conversation", 1)
    assert [m["content"] for m in document["messages"]] == ["Where to?", "Belém", "Alfama"]
    assert document["active_leaf_id"] == document["messages"][2]["id"]
    assert document["messages"][2]["parent_id"] == document["messages"][0]["id"]


def test_markdown_export_is_the_branch_shown(alice_client, branched):
    response = export(alice_client, branched, "markdown")

    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    text = response.content.decode()
    assert "## Assistant · version 2 of 2\n\nAlfama" in text and "Belém" not in text


def test_exports_are_for_their_owner_only(bob_client, client, branched):
    assert export(bob_client, branched).status_code == 404
    assert export(bob_client, branched, "markdown").status_code == 404
    assert client.get(f"/api/conversations/{branched.id}/export/").status_code == 401
    assert client.get("/api/exports/").status_code == 401
    with zipfile.ZipFile(io.BytesIO(bob_client.get("/api/exports/").content)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["conversations"] == []


def test_an_unknown_format_is_refused(alice_client, branched):
    response = export(alice_client, branched, "pdf")
    assert (response.status_code, response.json()["code"]) == (400, "invalid_field")


def test_export_all_is_a_zip_of_json_and_markdown_with_a_manifest(alice_client, branched, make_conversation, alice):
    other = make_conversation(alice, title="Second", messages=[("user", "hi")])

    response = alice_client.get("/api/exports/")

    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="parley-export-')
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
        second = json.loads(archive.read(f"conversations/conversation-{other.id}.json"))
    assert names == {
        "manifest.json",
        *(f"conversations/conversation-{c.id}.{ext}" for c in (branched, other) for ext in ("json", "md")),
    }
    assert [entry["title"] for entry in manifest["conversations"]] == ["Lisbon: a day?", "Second"]
    assert second["messages"][0]["content"] == "hi"


def test_an_export_imported_by_someone_else_becomes_theirs(alice_client, bob_client, bob, branched):
    archive = alice_client.get("/api/exports/").content

    response = post_import(bob_client, archive, "application/zip")

    assert response.status_code == 201
    body = response.json()
    assert body["imported"] == 1 and body["conversations"][0]["title"] == "Lisbon: a day?"
    mine = Conversation.objects.get(id=body["conversations"][0]["id"])
    assert mine.owner == bob and mine.messages.count() == 3
    assert Conversation.objects.filter(owner=bob).count() == 1


def test_a_chatgpt_export_imports_with_what_was_left_out_counted(alice_client, alice):
    response = post_import(alice_client, CHATGPT.read_bytes())

    assert response.status_code == 201
    assert (response.json()["imported"], response.json()["skipped_messages"]) == (2, 5)
    assert Conversation.objects.filter(owner=alice).count() == 2


@pytest.mark.parametrize(
    ("data", "content_type", "status", "words"),
    [
        (b"{oops", "application/json", 400, "not valid JSON"),
        (b"", "application/json", 400, "has no file"),
        (b"file=x", "application/x-www-form-urlencoded", 415, "not a form"),
        (json.dumps([{"mapping": {"a": {"parent": "b", "message": None}}}]).encode(), "application/json", 400,
         "not in the mapping"),
    ],
)  # fmt: skip
def test_a_bad_import_is_refused_with_words_and_saves_nothing(alice_client, alice, data, content_type, status, words):
    response = post_import(alice_client, data, content_type)

    assert response.status_code == status and words in response.json()["error"]
    assert not Conversation.objects.filter(owner=alice).exists()


def test_an_oversized_import_is_413_as_a_file_or_once_unzipped(alice_client, alice, settings):
    settings.PARLEY_IMPORT_MAX_BYTES = 2000
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("conversations.json", CHATGPT.read_bytes())
    assert len(buffer.getvalue()) < 2000 < len(CHATGPT.read_bytes())

    as_file = post_import(alice_client, CHATGPT.read_bytes())
    unzipped = post_import(alice_client, buffer.getvalue(), "application/zip")

    for response in (as_file, unzipped):
        assert (response.status_code, response.json()["code"]) == (413, "too_large")
        assert "2000 bytes" in response.json()["error"]
    assert not Conversation.objects.filter(owner=alice).exists()


def test_an_import_past_the_hourly_chat_limit_saves_nothing(alice_client, alice, settings):
    settings.PARLEY_MAX_CONVERSATIONS_PER_HOUR = 2
    assert (
        alice_client.post("/api/conversations/", {"title": "Earlier"}, content_type="application/json").status_code
        == 201
    )

    response = post_import(alice_client, CHATGPT.read_bytes())

    assert (response.status_code, response.json()["code"]) == (429, "quota_exceeded")
    assert "holds 2 chats" in response.json()["error"] and "nothing was imported" in response.json()["error"]
    assert Conversation.objects.filter(owner=alice).count() == 1


def test_an_import_past_the_storage_quota_saves_nothing(alice_client, alice, settings):
    settings.PARLEY_MAX_STORED_BYTES_PER_USER = 200  # the fixture's text is larger

    response = post_import(alice_client, CHATGPT.read_bytes())

    assert (response.status_code, response.json()["code"]) == (429, "quota_exceeded")
    assert not Conversation.objects.filter(owner=alice).exists()
    assert not Message.objects.exists()


def test_import_needs_a_login_and_a_post(client, alice_client):
    assert post_import(client, CHATGPT.read_bytes()).status_code == 401
    assert alice_client.get("/api/imports/").status_code == 405


def test_imported_messages_are_found_by_search(alice_client, bob_client):
    post_import(alice_client, CHATGPT.read_bytes())

    found = alice_client.get("/api/search/?q=tram").json()["results"]

    assert [(hit["conversation_title"], hit["role"]) for hit in found] == [("Lisbon or Porto", "assistant")]
    assert bob_client.get("/api/search/?q=tram").json()["results"] == []
