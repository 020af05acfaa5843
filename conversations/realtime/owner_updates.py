"""A conversation's changes told to every socket of its owner, whichever conversation it shows.

A tab's sidebar lists all its owner's chats, but its socket follows one conversation's group. A
change to a conversation itself (renamed, pinned, archived, deleted) is therefore published twice:
to the conversation's group, as protocol v1 always did, and to the owner's group (`user.<pk>`,
which every socket joins for session revocation). Chat sockets that asked for it (`?watch=all`)
relay the owner's copy unless it is about their own conversation, which they hear of already; the
conversation list's socket (list_consumer.py) relays every one; the console's ignores them.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from ..revocation import user_group
from .broadcast import publish_after_commit

logger = logging.getLogger(__name__)

EVENT_TYPE = "owner.conversation"  # the consumers' `owner_conversation` handlers


def owner_message(conversation_id: Any, frame: str) -> dict[str, Any]:
    """The channel-layer message carrying a conversation's change to its owner's other sockets."""
    return {"type": EVENT_TYPE, "conversation_id": str(conversation_id), "frame": frame}


def announce_after_commit(*, conversation_id: Any, owner_id: Any, frame: str) -> None:
    """Once the change commits, relay its frame to the conversation's sockets and its owner's others."""
    publish_after_commit(conversation_id, frame)

    def send() -> None:
        try:
            async_to_sync(get_channel_layer().group_send)(user_group(owner_id), owner_message(conversation_id, frame))
        except Exception:  # the change is saved; other tabs catch up when they next list their chats
            logger.exception("Could not notify the other sockets of conversation %s's owner", conversation_id)

    transaction.on_commit(send)
