"""Telling a conversation's open sockets, from synchronous code, that it was renamed or deleted."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from .. import protocol
from .broadcast import conversation_group

logger = logging.getLogger(__name__)


def notify_after_commit(conversation_id: Any, frame: dict[str, Any]) -> None:
    """Relay `frame` to every socket on the conversation once the change is committed."""

    def send() -> None:
        try:
            async_to_sync(get_channel_layer().group_send)(
                conversation_group(conversation_id), {"type": "chat.frame", "frame": protocol.dumps(frame)}
            )
        except Exception:  # the change is saved; open tabs catch up on their next snapshot
            logger.exception("Could not notify sockets of conversation %s", conversation_id)

    transaction.on_commit(send)
