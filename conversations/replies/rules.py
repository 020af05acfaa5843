"""Whether a send may start, and with which model: the refusals that a start (start.py) and an
edit, regenerate or continue (branches.py) share, each raised as a ReplyRefused with its protocol code."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from .. import quotas, selectors, storage_limits
from ..attachments.services import AttachmentRefused, uploads_claim
from ..models import Conversation, LLMModel, Message, Upload

if TYPE_CHECKING:
    from .start import Turn


class ReplyRefused(Exception):
    """The request is valid but cannot run now; `code` is the protocol error code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def refuse_if_streaming(turns: list[Turn]) -> None:
    """One reply at a time per conversation."""
    if any(turn.status == Message.Status.STREAMING for turn in turns):
        raise ReplyRefused("busy", "A reply is already being generated in this conversation.")


def refuse_at_cap(running: int) -> None:
    """No new reply while the owner has PARLEY_MAX_GENERATIONS_PER_USER streaming."""
    if running >= settings.PARLEY_MAX_GENERATIONS_PER_USER:
        raise ReplyRefused(
            "limit_reached",
            f"You already have {running} replies being generated; wait for one to finish.",
        )


def refuse_if_over_budget(user: AbstractBaseUser) -> None:
    """Past a monthly budget no new reply starts; one already running is never cut off by its cost."""
    reason = quotas.over_budget(user=user, now=timezone.now())
    if reason:
        raise ReplyRefused("quota_exceeded", reason)


def store_text(user: AbstractBaseUser, content: str) -> None:
    """Refuse a message that would take its owner past their stored-bytes quota."""
    if not content:
        return
    try:
        storage_limits.store(user=user, adding=storage_limits.text_bytes(content))
    except storage_limits.QuotaExceeded as refusal:
        raise ReplyRefused(refusal.code, refusal.detail) from None


def reply_model(user: AbstractBaseUser, conversation: Conversation, model_id: int | None) -> LLMModel:
    """The model this reply uses: the one asked for, else the conversation's, else the default;
    refused as `model_unavailable` when this user may not use it (now)."""
    if model_id is not None:
        model = selectors.usable_model(user=user, model_id=model_id)
        if model is None:
            raise ReplyRefused("model_unavailable", f"Model {model_id} does not exist or is not available to you.")
        return model
    if conversation.model_id is not None:
        model = selectors.usable_model(user=user, model_id=conversation.model_id)
        if model is None:
            raise ReplyRefused(
                "model_unavailable",
                "This conversation's model is no longer available (disabled or removed); pick another model.",
            )
        return model
    model = selectors.default_model(user=user)
    if model is None:
        raise ReplyRefused("model_unavailable", "No model is available to you; ask an administrator for access.")
    return model


def claim(user: AbstractBaseUser, attachments: tuple[str, ...], model: LLMModel) -> list[Upload]:
    if not attachments:
        return []
    try:
        return uploads_claim(user=user, upload_ids=attachments, model=model)
    except AttachmentRefused as refused:
        raise ReplyRefused(refused.code, refused.detail) from None
