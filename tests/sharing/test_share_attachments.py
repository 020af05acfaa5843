"""A share link's viewers may open the files of the messages the link shows (a snapshot: only up to
the message it froze at), with the owner's headers; nothing else, and nothing once revoked."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from conversations.models import Message, ShareLink, Upload
from conversations.sharing import services as sharing
from tests.attachments.conftest import pdf, png

pytestmark = pytest.mark.db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def attach(client: Client, message: Message, data: bytes, name: str) -> str:
    upload_id = client.post("/api/uploads/", {"file": SimpleUploadedFile(name, data)}).json()["id"]
    Upload.objects.filter(id=upload_id).update(message=message)
    return upload_id


def add(conversation, parent: Message | None, role: str, content: str) -> Message:
    position = conversation.messages.count()
    message = Message.objects.create(
        conversation=conversation, parent=parent, position=position, role=role, content=content
    )
    conversation.active_leaf = message
    conversation.save(update_fields=["active_leaf"])
    return message


@pytest.fixture
def shared(alice, alice_client, make_conversation):
    """A question with a picture and a PDF, answered; a snapshot taken then; a later question with a picture."""
    conversation = make_conversation(alice, title="Files")
    question = add(conversation, None, "user", "look")
    files = {
        "picture": attach(alice_client, question, png(), "a.png"),
        "plan": attach(alice_client, question, pdf("plan"), "plan.pdf"),
    }
    answer = add(conversation, question, "assistant", "seen")
    snapshot = share(conversation, "snapshot")
    files["later"] = attach(alice_client, add(conversation, answer, "user", "and this"), png(), "b.png")
    return conversation, files, snapshot


def share(conversation, mode: str, login_required: bool = False) -> ShareLink:
    return sharing.share_create(conversation=conversation, mode=mode, login_required=login_required, show_owner=False)


def read(client: Client, upload_id: str, link: ShareLink | str | None = None):
    query = f"?share={getattr(link, 'id', link)}" if link is not None else ""
    return client.get(f"/api/uploads/{upload_id}/content{query}")


def test_a_live_links_viewers_open_its_files_with_the_owners_headers(shared):
    conversation, files, _ = shared
    live, viewer = share(conversation, "live"), Client()
    picture = read(viewer, files["picture"], live)
    assert picture.status_code == 200 and picture["Content-Type"] == "image/png"
    assert picture["X-Content-Type-Options"] == "nosniff" and picture["Content-Security-Policy"].endswith("sandbox")
    assert not picture.get("Content-Disposition", "").startswith("attachment")
    assert picture["Cache-Control"] == "private, no-cache"  # asked again each time: a revocation applies at once
    plan = read(viewer, files["plan"], live)
    assert plan.status_code == 200 and plan["Content-Type"] == "application/pdf"
    assert plan["Content-Disposition"].startswith("attachment") and plan["X-Content-Type-Options"] == "nosniff"
    assert read(viewer, files["later"], live).status_code == 200


def test_a_snapshots_viewers_open_only_the_files_up_to_its_message(shared):
    _, files, snapshot = shared
    assert read(Client(), files["picture"], snapshot).status_code == 200
    assert read(Client(), files["later"], snapshot).status_code == 404


def test_files_of_a_branch_not_shown_or_unsent_stay_closed(shared, alice_client):
    conversation, files, _ = shared
    live = share(conversation, "live")
    add(conversation, None, "user", "an edit of the first question")  # a second root, now the branch shown
    assert read(Client(), files["picture"], live).status_code == 404
    assert read(Client(), files["later"], live).status_code == 404
    unsent = alice_client.post("/api/uploads/", {"file": SimpleUploadedFile("c.png", png())}).json()["id"]
    assert read(Client(), unsent, live).status_code == 404


def test_without_the_link_or_with_a_bad_one_nothing_opens(shared, bob, bob_client, make_conversation):
    conversation, files, _ = shared
    assert read(Client(), files["picture"]).status_code == 401
    assert read(bob_client, files["picture"]).status_code == 404
    for bad in ("not-a-uuid", conversation.id, share(make_conversation(bob, title="Bob's"), "live")):
        assert read(bob_client, files["picture"], bad).status_code == 404


def test_a_login_link_needs_a_login_and_a_revoked_one_opens_nothing(shared, bob_client):
    conversation, files, _ = shared
    login = share(conversation, "live", login_required=True)
    assert read(Client(), files["picture"], login).status_code == 404
    assert read(bob_client, files["picture"], login).status_code == 200
    sharing.share_revoke(link=login)
    assert read(bob_client, files["picture"], login).status_code == 404
