"""POST /api/uploads/ and reading files back: the answer's shape, limits, who may read, and cleanup."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from conversations.models import Conversation, Message, Upload

from .conftest import pdf, png

pytestmark = pytest.mark.db

URL = "/api/uploads/"


def upload(client: Client, data: bytes, name: str, content_type: str = "application/octet-stream"):
    return client.post(URL, {"file": SimpleUploadedFile(name, data, content_type=content_type)})


def test_an_upload_answers_201_with_exactly_its_id_name_type_and_size(alice_client, media_root):
    response = upload(alice_client, png(), "shot.png", "image/png")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "content_type", "size"}
    stored = Upload.objects.get(id=body["id"])
    assert (body["name"], body["content_type"], body["size"]) == ("shot.png", "image/png", stored.size)
    assert stored.file.name and (media_root / stored.file.name).exists()
    assert "shot" not in stored.file.name  # stored under a random name, not the user's


def test_a_png_renamed_pdf_is_stored_as_a_png(alice_client):
    body = upload(alice_client, png(), "invoice.pdf", "application/pdf").json()
    assert body["content_type"] == "image/png" and body["name"] == "invoice.pdf"


@pytest.mark.parametrize(
    ("data", "name", "content_type", "status", "code"),
    [
        (b"<html><body onload=alert(1)>", "cat.png", "image/png", 415, "not_an_image"),
        (b"\x7fELF\x02\x01\x01" + bytes(300), "tool", "application/octet-stream", 415, "unsupported_type"),
        (b"", "empty.txt", "text/plain", 400, "empty"),
    ],
)
def test_refused_uploads_say_why_and_store_nothing(alice_client, data, name, content_type, status, code):
    response = upload(alice_client, data, name, content_type)
    assert response.status_code == status and response.json()["code"] == code and response.json()["error"]
    assert not Upload.objects.exists()


def test_an_oversized_upload_is_refused_before_its_body_is_read(alice_client, settings):
    settings.PARLEY_UPLOAD_MAX_BYTES = 2048
    response = upload(alice_client, b"a" * (200 * 1024), "big.txt", "text/plain")
    assert response.status_code == 413 and response.json()["code"] == "too_large"
    response = upload(alice_client, b"a" * 3000, "big.txt", "text/plain")  # under the framing slack
    assert response.status_code == 413 and not Upload.objects.exists()


def test_a_post_without_a_file_field_is_a_400(alice_client):
    response = alice_client.post(URL, {"other": "x"})
    assert response.status_code == 400 and "field named file" in response.json()["error"]


def test_anonymous_uploads_are_refused():
    assert upload(Client(), png(), "a.png").status_code == 401


def test_files_are_served_to_their_owner_only_images_inline_and_others_as_downloads(alice_client, bob_client):
    image = upload(alice_client, png(), "a.png").json()
    document = upload(alice_client, pdf("secret plan"), "plan.pdf").json()
    response = alice_client.get(f"/api/uploads/{image['id']}/content")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert not response.get("Content-Disposition", "").startswith("attachment")
    response = alice_client.get(f"/api/uploads/{document['id']}/content")
    assert response["Content-Type"] == "application/pdf" and response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment") and "plan.pdf" in response["Content-Disposition"]
    for path in (f"/api/uploads/{image['id']}/content", f"/api/uploads/{image['id']}/"):
        assert bob_client.get(path).status_code == 404
    assert bob_client.delete(f"/api/uploads/{image['id']}/").status_code == 404


def test_an_unsent_upload_can_be_removed_and_its_file_goes(
    alice_client, media_root, django_capture_on_commit_callbacks
):
    body = upload(alice_client, png(), "a.png").json()
    path = media_root / Upload.objects.get(id=body["id"]).file.name
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_client.delete(f"/api/uploads/{body['id']}/").status_code == 204
    assert not path.exists() and not Upload.objects.exists()


def test_deleting_a_conversation_deletes_its_files(alice, alice_client, media_root, django_capture_on_commit_callbacks):
    body = upload(alice_client, png(), "a.png").json()
    conversation = Conversation.objects.create(owner=alice, title="With a file")
    message = Message.objects.create(conversation=conversation, position=0, role="user", content="look")
    Upload.objects.filter(id=body["id"]).update(message=message)
    path = media_root / Upload.objects.get(id=body["id"]).file.name
    assert alice_client.delete(f"/api/uploads/{body['id']}/").status_code == 409  # sent: it stays with its message
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_client.delete(f"/api/conversations/{conversation.id}/").status_code == 204
    assert not path.exists() and not Upload.objects.exists()


def test_uploads_no_message_took_expire(alice_client, settings, media_root, django_capture_on_commit_callbacks):
    old, fresh = (upload(alice_client, png(), f"{n}.png").json()["id"] for n in ("old", "fresh"))
    Upload.objects.filter(id=old).update(created_at=timezone.now() - timedelta(seconds=settings.PARLEY_UPLOAD_TTL + 5))
    old_path = media_root / Upload.objects.get(id=old).file.name
    with django_capture_on_commit_callbacks(execute=True):
        call_command("expire_uploads")
    assert list(Upload.objects.values_list("id", flat=True)) == [Upload.objects.get(id=fresh).id]
    assert not old_path.exists()
