"""Share links: what an owner has shared and what a viewer may see."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from .. import selectors, tree
from ..models import Conversation, Message, ShareLink


def share_list(*, conversation: Conversation) -> QuerySet[ShareLink]:
    return conversation.share_links.filter(revoked_at__isnull=True).order_by("-created_at")


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
    """What the link shows: the branch shown (live), or the path down to the message it froze at
    (snapshot), which later edits, branches and branch switches leave as it was."""
    if link.mode == ShareLink.Mode.SNAPSHOT:
        return selectors.message_path(conversation=link.conversation, leaf_id=link.upto_message_id)
    return selectors.message_list(conversation=link.conversation)


def share_shows_message(*, link_id: uuid.UUID | str, user, message_id: uuid.UUID) -> bool:
    """Whether an active link this user may view shows this message (so they may open its files);
    read from the tree alone, without the messages' text."""
    link = share_get_active(link_id=link_id)
    if link is None or not may_view(link, user):
        return False
    nodes = selectors.message_tree(conversation=link.conversation)
    if link.mode == ShareLink.Mode.SNAPSHOT:
        shown = tree.path_to(nodes, link.upto_message_id)
    else:
        shown = tree.active_path(nodes, link.conversation.active_leaf_id)
    return any(node.id == message_id for node in shown)


def may_view(link: ShareLink, user) -> bool:
    return not link.login_required or bool(user and user.is_authenticated)
