"""Share links: create, list, revoke, and read what a viewer may see.

A revocation is announced on the link's channel-layer group, which every viewer socket of that
link joins on every process; each closes with 1008 at once.
"""

from __future__ import annotations

import logging
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from . import selectors
from .models import Conversation, Message, ShareLink

logger = logging.getLogger(__name__)


def share_group(link_id) -> str:
    return f"share.{link_id}"


def share_create(*, conversation: Conversation, mode: str, login_required: bool, show_owner: bool) -> ShareLink:
    """A new link; a snapshot freezes at the conversation's last finished message."""
    upto = None
    if mode == ShareLink.Mode.SNAPSHOT:
        last = conversation.messages.exclude(status=Message.Status.STREAMING).order_by("-position").first()
        upto = last.position if last else -1
    return ShareLink.objects.create(
        conversation=conversation, mode=mode, login_required=login_required, show_owner=show_owner, upto_position=upto
    )


def share_list(*, conversation: Conversation) -> QuerySet[ShareLink]:
    return conversation.share_links.filter(revoked_at__isnull=True).order_by("-created_at")


def share_revoke(*, link: ShareLink) -> None:
    """Revoke it and close its viewers' sockets, on every process, once the revocation commits."""
    link.revoked_at = timezone.now()
    link.save(update_fields=["revoked_at"])
    announce_revoked(link.id)


def announce_revoked(link_id) -> None:
    def send() -> None:
        try:
            async_to_sync(get_channel_layer().group_send)(share_group(link_id), {"type": "share.revoked"})
        except Exception:  # a dead layer must not undo the revocation; new viewers are refused anyway
            logger.exception("Could not announce the revocation of share link %s", link_id)

    transaction.on_commit(send)


def share_get_owned(*, user, link_id: uuid.UUID | str) -> ShareLink | None:
    """One of the user's own active links, or None."""
    try:
        return ShareLink.objects.get(id=link_id, conversation__owner=user, revoked_at__isnull=True)
    except (ShareLink.DoesNotExist, ValidationError, ValueError):
        return None


def share_get_active(*, link_id: uuid.UUID | str) -> ShareLink | None:
    """An active link with its conversation and owner, for a viewer."""
    try:
        return ShareLink.objects.select_related("conversation__owner").get(id=link_id, revoked_at__isnull=True)
    except (ShareLink.DoesNotExist, ValidationError, ValueError):
        return None


def share_messages(*, link: ShareLink) -> list[Message]:
    """What the link shows: the branch shown (live), or its messages up to the frozen position (snapshot)."""
    messages = selectors.message_list(conversation=link.conversation)
    if link.mode == ShareLink.Mode.SNAPSHOT:
        messages = [message for message in messages if message.position <= link.upto_position]
    return messages


def may_view(link: ShareLink, user) -> bool:
    return not link.login_required or bool(user and user.is_authenticated)
