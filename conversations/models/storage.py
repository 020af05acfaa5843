"""What each user has stored and how many chats they started lately, kept so a quota check is one
statement (storage_limits.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class StorageUsage(models.Model):
    """Bytes of text (UTF-8) a user stored: titles, system prompts, their messages, and their
    finished replies with those replies' tool parts."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="storage_usage"
    )
    stored_bytes = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.stored_bytes} bytes"


class ConversationCreation(models.Model):
    """One chat started, kept for an hour whatever became of the chat: deleting it does not give
    the creation back, so a create-delete loop meets PARLEY_MAX_CONVERSATIONS_PER_HOUR."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"], name="creation_user_time")]

    def __str__(self) -> str:
        return f"{self.user_id} at {self.created_at:%Y-%m-%d %H:%M:%S}"
