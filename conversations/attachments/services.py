"""Uploads in the database and storage: saving one, attaching them to a message, deleting their files.

Files leave storage when their row goes, whichever way it goes (a deleted conversation cascades to
its messages' uploads), and only once the deletion commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone

from ..models import LLMModel, Upload
from .sniff import Prepared


class AttachmentRefused(Exception):
    """Attachments a message cannot take; `code` is the protocol error code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


@dataclass(frozen=True, slots=True)
class AttachmentRef:
    """What a prompt needs of an attached file: its kind, type and name, and its stored file or text."""

    kind: str
    content_type: str
    name: str
    storage_name: str
    text: str = ""
    text_truncated: bool = False


def upload_create(*, owner: AbstractBaseUser, name: str, prepared: Prepared) -> Upload:
    upload = Upload(
        owner=owner,
        kind=prepared.kind,
        name=name,
        content_type=prepared.content_type,
        size=len(prepared.data),
        text=prepared.text,
        text_truncated=prepared.text_truncated,
        width=prepared.width,
        height=prepared.height,
    )
    upload.file.save(upload.id.hex, ContentFile(prepared.data), save=False)
    upload.save(force_insert=True)
    return upload


def uploads_claim(*, user: AbstractBaseUser, upload_ids: tuple[str, ...], model: LLMModel) -> list[Upload]:
    """Lock the user's unused uploads for a new message, in the order given, or refuse clearly
    (before any upstream call) when one is missing, too much, or an image the model cannot see."""
    if len(upload_ids) > settings.PARLEY_UPLOAD_MAX_FILES:
        raise AttachmentRefused(
            "invalid_field", f"A message may carry at most {settings.PARLEY_UPLOAD_MAX_FILES} files."
        )
    wanted = list(dict.fromkeys(upload_ids))
    try:
        keys = [uuid.UUID(value) for value in wanted]
    except ValueError:
        raise AttachmentRefused("invalid_field", "attachments must be upload ids.") from None
    found = {u.id: u for u in Upload.objects.select_for_update().filter(id__in=keys, owner=user, message__isnull=True)}
    if len(found) != len(keys):
        raise AttachmentRefused("invalid_field", "An attachment does not exist, has expired or was already sent.")
    uploads = [found[key] for key in keys]
    total = sum(u.size for u in uploads)
    if total > settings.PARLEY_UPLOAD_MAX_PER_MESSAGE:
        raise AttachmentRefused(
            "too_large",
            f"The attachments of one message may total at most {settings.PARLEY_UPLOAD_MAX_PER_MESSAGE} bytes.",
        )
    if any(u.kind == Upload.Kind.IMAGE for u in uploads) and not model.vision:
        raise AttachmentRefused(
            "model_cannot_see",
            f"The model {model.display_name} cannot read images; remove the image or choose a model that can.",
        )
    return uploads


def attachment_part(upload: Upload) -> dict:
    """The message part of an attached file (docs/protocol.md)."""
    part = {
        "type": upload.kind,
        "upload_id": str(upload.id),
        "name": upload.name,
        "content_type": upload.content_type,
        "size": upload.size,
        "url": reverse("api-upload-content", args=[upload.id]),
    }
    if upload.kind == Upload.Kind.IMAGE:
        part.update(width=upload.width, height=upload.height)
    else:
        part.update(text=upload.text, truncated=upload.text_truncated)
    return part


def refs_by_message(message_ids: list) -> dict:
    """The attachments of these messages, for a prompt: message id -> refs in upload order."""
    refs: dict = {}
    for upload in Upload.objects.filter(message_id__in=message_ids).order_by("created_at"):
        refs.setdefault(upload.message_id, []).append(ref(upload))
    return refs


def ref(upload: Upload) -> AttachmentRef:
    return AttachmentRef(
        upload.kind, upload.content_type, upload.name, upload.file.name, upload.text, upload.text_truncated
    )


def uploads_expire() -> int:
    """Delete uploads no message took within PARLEY_UPLOAD_TTL; how many went."""
    stale = timezone.now() - timedelta(seconds=settings.PARLEY_UPLOAD_TTL)
    count = 0
    for upload_id in Upload.objects.filter(message__isnull=True, created_at__lt=stale).values_list("id", flat=True):
        # asked again at deletion: a message may have taken it since (one process's send, another's expiry)
        deleted, _ = Upload.objects.filter(id=upload_id, message__isnull=True).delete()
        count += bool(deleted)
    return count


@receiver(post_delete, sender=Upload)
def delete_stored_file(sender, instance: Upload, using: str, **kwargs) -> None:
    """The file goes once its row's deletion commits (a rolled-back delete keeps both)."""
    if instance.file.name:
        storage, name = instance.file.storage, instance.file.name
        transaction.on_commit(lambda: storage.delete(name), using=using)
