"""Uploads no message took expire without cron: every worker deletes them on a schedule, and
`manage.py expire_uploads` still does it on demand."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.files.storage import storages
from django.core.management import call_command
from django.utils import timezone

from conversations.attachments import services
from conversations.attachments.sniff import prepare
from conversations.models import Conversation, Message, Upload
from conversations.realtime import housekeeping

from .conftest import png

pytestmark = pytest.mark.django_db(transaction=True)


class LoopEnded(Exception):
    """Raised by the test's sleep, so one round of the loop runs and the test sees how long it would wait."""


def uploads(owner) -> dict[str, Upload]:
    """An old unused upload, a fresh unused one, and an old one a message took."""
    made = {
        name: services.upload_create(owner=owner, name=f"{name}.png", prepared=prepare(png(), name=f"{name}.png"))
        for name in ("stale", "fresh", "sent")
    }
    conversation = Conversation.objects.create(owner=owner, title="Files")
    message = Message.objects.create(conversation=conversation, role="user", content="see", position=0)
    Upload.objects.filter(id=made["sent"].id).update(message=message)
    old = timezone.now() - timedelta(days=2)
    Upload.objects.filter(id__in=[made["stale"].id, made["sent"].id]).update(created_at=old)
    return made


def remaining(made: dict[str, Upload]) -> set[str]:
    """Which of the uploads still have their row and their stored file."""
    storage = storages["attachments"]
    kept = set(Upload.objects.filter(id__in=[u.id for u in made.values()]).values_list("name", flat=True))
    assert {n for n, u in made.items() if storage.exists(u.file.name)} == {n.removesuffix(".png") for n in kept}
    return {name.removesuffix(".png") for name in kept}


async def test_the_worker_loop_deletes_expired_unused_uploads_and_waits_the_interval(alice, settings):
    settings.PARLEY_UPLOAD_EXPIRE_INTERVAL = 1234.0
    made = await sync_to_async(uploads)(alice)
    waited: list[float] = []

    async def one_round(seconds: float) -> None:
        waited.append(seconds)
        raise LoopEnded

    with pytest.raises(LoopEnded):
        await housekeeping.expire_uploads_loop(sleep=one_round)
    assert waited == [1234.0]
    assert await sync_to_async(remaining)(made) == {"fresh", "sent"}


async def test_an_interval_of_zero_leaves_expiry_to_cron(alice, settings):
    settings.PARLEY_UPLOAD_EXPIRE_INTERVAL = 0
    made = await sync_to_async(uploads)(alice)
    await housekeeping.expire_uploads_loop()  # returns at once instead of looping
    assert await sync_to_async(remaining)(made) == {"stale", "fresh", "sent"}


async def test_every_worker_runs_the_expiry_loop(worker):
    assert "parley-expire-uploads" in {task.get_name() for task in worker.tasks if not task.done()}


def test_the_management_command_still_expires_uploads(alice):
    made = uploads(alice)
    out = io.StringIO()
    call_command("expire_uploads", stdout=out)
    assert out.getvalue().strip() == "Deleted 1 unused uploads."
    assert remaining(made) == {"fresh", "sent"}
