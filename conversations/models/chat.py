"""Conversations and their messages: the chat history itself."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class Conversation(models.Model):
    """A chat thread owned by one user; its UUID is the only handle clients ever see."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    title = models.CharField(max_length=200, default="New chat")
    # The catalog model new replies use (empty: the default). No database constraint and no cascade: a
    # model deleted while conversations use it leaves its id here, so their next send says so.
    model = models.ForeignKey(
        "LLMModel",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        help_text="Model used for new replies; empty means the default.",
    )
    system_prompt = models.TextField(blank=True)
    temperature = models.FloatField(null=True, blank=True, help_text="Sampling temperature; empty: the default.")
    # Some message has attachments: only then does starting a reply look up files for the prompt.
    has_attachments = models.BooleanField(default=False)
    # Some reply called tools: only then does starting a reply read earlier replies' parts to replay the calls.
    has_tool_calls = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=False)
    # The end of the branch being shown (conversations/tree.py); null means the newest message.
    active_leaf = models.ForeignKey("Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Pinned chats head the owner's list; archived ones leave it for the archived view (docs/ui.md).
    # Both are the owner's filing, not activity: changing them leaves `updated_at` alone.
    pinned = models.BooleanField(default=False)
    archived = models.BooleanField(default=False)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [
            models.Index(fields=["owner", "-updated_at"], name="conv_owner_recent"),
            # The sidebar's query: one owner's archived or unarchived chats, pinned first, then recent.
            models.Index(fields=["owner", "archived", "-pinned", "-updated_at"], name="conv_owner_list"),
        ]

    def __str__(self) -> str:
        return self.title


class Message(models.Model):
    """One turn of a conversation; assistant turns also carry their generation's record.

    Messages form a tree through `parent`: an edit or a regenerate adds a sibling, and nothing is
    ever replaced. `position` is the order of creation within the conversation, so a child always
    comes after its parent and siblings are ordered by it.
    """

    class Role(models.TextChoices):
        SYSTEM = "system"
        USER = "user"
        ASSISTANT = "assistant"

    class Status(models.TextChoices):
        COMPLETE = "complete"
        STREAMING = "streaming"
        CANCELLED = "cancelled"
        FAILED = "failed"
        INTERRUPTED = "interrupted"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    # The message this one answers or follows; null for the first message of a branch from the top.
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    # Order of creation within the conversation; timestamps can tie, positions cannot.
    position = models.PositiveIntegerField()
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField(blank=True)
    # Ordered parts (text, tool calls and results); `content` is their plain-text view
    # (conversations/parts.py). Empty means one text part holding `content`.
    parts = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETE)
    # Number of the last streamed delta already contained in `content` (protocol v1 `seq`).
    seq = models.PositiveIntegerField(default=0)
    # Client-chosen id of the send that created this message; makes retried sends idempotent.
    request_id = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)
    model = models.CharField(max_length=200, blank=True)
    # The catalog model the reply asked (`model` is the upstream name the provider answered with).
    catalog_model = models.ForeignKey(
        "LLMModel", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    # USD at the model's prices when the reply was written; tokens counted from the text when the
    # provider reported none (`usage_estimated`).
    cost_usd = models.DecimalField(max_digits=16, decimal_places=8, null=True, blank=True)
    usage_estimated = models.BooleanField(default=False)
    # Set when the row is built, not by auto_now_add, so an import can keep a message's own time.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Channel of the process generating this reply, and when it last proved it is alive.
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["conversation", "position"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "position"], name="msg_unique_position"),
            models.CheckConstraint(condition=~Q(parent=F("id")), name="msg_not_own_parent"),
            models.UniqueConstraint(
                fields=["conversation", "role", "request_id"],
                condition=~Q(request_id=""),
                name="msg_unique_request",
            ),
        ]
        indexes = [
            models.Index(
                fields=["status", "heartbeat_at"],
                condition=Q(status="streaming"),
                name="msg_streaming",
            ),
        ]

    # Its place among its parent's children, set by whoever read the tree (conversations/tree.py).
    sibling_index = 0
    sibling_ids: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:60]}"

    @property
    def sibling_count(self) -> int:
        return len(self.sibling_ids) or 1

    @property
    def usage(self) -> dict[str, Any] | None:
        """Protocol v1's usage object: tokens, cost, and whether they were estimated; None before the end."""
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": None if self.cost_usd is None else float(self.cost_usd),
            "estimated": self.usage_estimated,
        }


class Regeneration(models.Model):
    """A `message.regenerate` (or `message.continue`) request id already handled in a conversation.

    A regenerated reply carries its request id only until the next regeneration deletes it, so
    without this record a retried regenerate arriving after a later one would start a new reply.
    """

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="regenerations")
    request_id = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "request_id"], name="regen_unique_request"),
        ]

    def __str__(self) -> str:
        return self.request_id
