"""The viewer's socket of a share link: the chat socket's snapshot and resume rule, read-only.

Viewers are refused before the handshake completes when the link is missing or revoked, needs a
login they lack, or already has its cap of viewers in this process. They may only ask for a `sync`;
every other frame is answered `read_only`. They join the link's group, where a revocation closes
them with 1008 on every process. A snapshot link never subscribes to the conversation.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from .. import protocol, selectors
from ..consumers import ConversationConsumer
from ..models import ShareLink
from ..protocol import ProtocolError
from ..realtime import local
from ..realtime.broadcast import conversation_group
from ..realtime.fairness import TokenBucket
from ..revocation import SESSION_ENDED
from . import selectors as shares
from .services import share_group

VIEWERS: Counter[str] = Counter()  # open viewer sockets per link, in this process
HIDDEN_FRAMES = ('{"type":"conversation.updated"',)  # they carry the owner's system prompt


class ShareViewerConsumer(ConversationConsumer):
    async def connect(self) -> None:
        self.user = self.scope.get("user")
        self.link_id = str(self.scope["url_route"]["kwargs"]["share_id"])
        self.share_group = share_group(self.link_id)
        await self.join(self.share_group)  # before reading the link: a revocation cannot slip past
        link = await database_sync_to_async(shares.share_get_active)(link_id=self.link_id)
        if (
            link is None
            or not shares.may_view(link, self.user)
            or VIEWERS[self.link_id] >= settings.PARLEY_SHARE_MAX_VIEWERS
        ):
            await self.close()
            return
        VIEWERS[self.link_id] += 1
        self.counted = True
        self.link, self.conversation_id = link, link.conversation_id
        if link.mode == ShareLink.Mode.LIVE:  # subscribe, then read: the resume rule
            self.group = conversation_group(self.conversation_id)
            local.sockets.add(self.group, self)
            await self.join(self.group)
        state = await self.read_state()
        if state is None:
            await self.close()
            return
        self.bucket = TokenBucket(settings.PARLEY_WS_RATE)
        await self.accept()
        await self.send_snapshot(state)
        self.accepted = True

    async def disconnect(self, code: int) -> None:
        if getattr(self, "counted", False):
            VIEWERS[self.link_id] -= 1
            if VIEWERS[self.link_id] <= 0:
                del VIEWERS[self.link_id]
        await self.leave(self.share_group)
        if hasattr(self, "group"):
            await self.leave_conversation()

    async def handle(self, frame: protocol.ClientFrame) -> None:
        if frame.type != "sync":
            raise ProtocolError("read_only", "This is a read-only shared view.", frame.request_id)
        await self.send_snapshot()

    async def read_state(self) -> selectors.ConversationState | None:
        return await database_sync_to_async(share_state)(self.link_id)

    async def chat_frame(self, event: dict[str, Any]) -> None:
        if event["frame"].startswith(HIDDEN_FRAMES):
            return
        await super().chat_frame(event)
        if event["frame"].startswith('{"type":"conversation.deleted"'):
            await self.close(code=SESSION_ENDED)

    async def share_revoked(self, event: dict[str, Any]) -> None:
        await self.close(code=SESSION_ENDED)


def share_state(link_id: str) -> selectors.ConversationState | None:
    """The link's conversation (its system prompt withheld) and the messages it shows; None once revoked."""
    link = shares.share_get_active(link_id=link_id)
    if link is None:
        return None
    conversation = link.conversation
    conversation.system_prompt = ""  # never saved: only what this viewer is sent
    messages = shares.share_messages(link=link)
    elsewhere = selectors.streaming_elsewhere(conversation=conversation, shown=messages)
    return selectors.ConversationState(conversation, messages, elsewhere)
