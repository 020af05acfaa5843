"""Share links: create and revoke.

A revocation is announced on the link's channel-layer group, which every viewer socket of that
link joins on every process; each closes with 1008 at once.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from .. import selectors
from ..models import Conversation, Message, ShareLink

logger = logging.getLogger(__name__)


def share_group(link_id) -> str:
    return f"share.{link_id}"


def share_create(*, conversation: Conversation, mode: str, login_required: bool, show_owner: bool) -> ShareLink:
    """A new link; a snapshot freezes at the last finished message of the branch shown."""
    upto = None
    if mode == ShareLink.Mode.SNAPSHOT:
        finished = [
            m for m in selectors.message_list(conversation=conversation) if m.status != Message.Status.STREAMING
        ]
        upto = finished[-1] if finished else None
    return ShareLink.objects.create(
        conversation=conversation, mode=mode, login_required=login_required, show_owner=show_owner, upto_message=upto
    )


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
