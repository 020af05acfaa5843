"""Read-only links to a conversation: a snapshot frozen at one message, or live."""

from __future__ import annotations

import uuid

from django.db import models

from .chat import Conversation, Message


class ShareLink(models.Model):
    """Anyone holding the link (logged in, if `login_required`) may watch the conversation; its
    random UUID is the secret. Revoking closes every viewer's socket at once."""

    class Mode(models.TextChoices):
        LIVE = "live"
        SNAPSHOT = "snapshot"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="share_links")
    mode = models.CharField(max_length=10, choices=Mode.choices)
    login_required = models.BooleanField(default=True)
    show_owner = models.BooleanField(default=False, help_text="Show the owner's username to viewers.")
    # A snapshot shows the path from the root down to this message (the branch shown's last finished
    # message when it was taken) and nothing newer; empty when there was none, or it was deleted.
    upto_message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.mode} link to {self.conversation_id}"
