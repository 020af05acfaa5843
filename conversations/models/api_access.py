"""Personal API tokens, and the /v1/ calls in flight that hold a slot of their owner's generation cap."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """A bearer token for the /v1/ API. Only a SHA-256 digest of the secret is kept: the token is
    shown once, at creation; `prefix` lets its owner tell tokens apart without revealing them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The token's first characters, for recognising it.")
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the whole token, in hex.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="token_owner_recent")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_active(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class ApiCall(models.Model):
    """A /v1/ completion that is not saved in a conversation, while it streams. It counts against
    its owner's cap on replies being generated, like a streaming reply does; `expires_at` is its
    start plus the generation deadline, so a row left by a crashed process stops counting by itself."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_calls")
    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="calls")
    started_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["owner", "expires_at"], name="apicall_owner_live")]

    def __str__(self) -> str:
        return f"call {self.id}"
