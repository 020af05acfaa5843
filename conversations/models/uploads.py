"""Files users attach to their messages: stored through Django's storage API, owned by one user."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.files.storage import storages
from django.db import models


def attachment_storage():
    return storages["attachments"]


def upload_path(upload: Upload, filename: str) -> str:
    """A path that reveals nothing: the owner's id and a random name, never the user's file name."""
    return f"uploads/{upload.owner_id}/{upload.id.hex}"


class Upload(models.Model):
    """One uploaded file, checked and prepared at upload: images re-encoded, documents' text extracted.

    It belongs to its owner until a message uses it; then to that message, and goes with it.
    """

    class Kind(models.TextChoices):
        IMAGE = "image"
        FILE = "file"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads")
    message = models.ForeignKey(
        "conversations.Message", null=True, blank=True, on_delete=models.CASCADE, related_name="uploads"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=255)  # as the user named it, for display and downloads only
    content_type = models.CharField(max_length=100)  # decided from the content, never from the name
    size = models.PositiveBigIntegerField()  # of the stored file
    file = models.FileField(storage=attachment_storage, upload_to=upload_path, max_length=300)
    text = models.TextField(blank=True)  # a document's extracted text
    text_truncated = models.BooleanField(default=False)  # the document had more text than was kept
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["created_at"], condition=models.Q(message__isnull=True), name="upload_unused"),
        ]

    def __str__(self) -> str:
        return self.name
