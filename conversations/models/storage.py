"""What each user has stored, kept as a running count so a quota check is one statement."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class StorageUsage(models.Model):
    """Bytes of text (UTF-8) a user wrote: titles, system prompts, message content and imported replies,
    not generated replies."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="storage_usage"
    )
    stored_bytes = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.stored_bytes} bytes"
