"""The viewer's socket of a share link: the chat socket's snapshot and resume rule, read-only.

Viewers are refused before the handshake completes when the link is missing or revoked, needs a
login they lack, or already has its cap of viewers. The cap counts every process's viewers: each
socket holds a seat leased in Redis by its process's fair-use ledger (realtime/fairness.py), which
renews it, so the seats of a killed process lapse within a lease. A viewer's snapshots, the one
each connect sends included, come from a budget as on the owner's socket (PARLEY_SNAPSHOTS_PER_MINUTE
per viewer, one per PARLEY_SYNC_INTERVAL per socket), so a reconnect storm on a link is refused
with `limit_reached` and 4429. They may only ask for a `sync`, which is folded; every other frame
is answered `read_only`. They
join the link's group, where a revocation closes them with 1008 on every process. A snapshot link
never subscribes to the conversation.
"""

from __future__ import annotations

import uuid
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from .. import generation, protocol, selectors
from ..consumers import MINUTE, TOO_MANY_SNAPSHOTS, ConversationConsumer
from ..models import ShareLink
from ..protocol import ProtocolError
from ..realtime import local
from ..realtime.broadcast import conversation_group
from ..realtime.fairness import Ledger, SnapshotPacer, TokenBucket
from ..revocation import SESSION_ENDED
from . import selectors as shares
from .services import share_group

HIDDEN_FRAMES = ('{"type":"conversation.updated"',)  # they carry the owner's system prompt


class ShareViewerConsumer(ConversationConsumer):
    seats: Ledger | None = None  # where this socket holds its seat among the link's viewers, once it has one

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        self.link_id = str(self.scope["url_route"]["kwargs"]["share_id"])
        self.share_group = share_group(self.link_id)
        await self.join(self.share_group)  # before reading the link: a revocation cannot slip past
        link = await database_sync_to_async(shares.share_get_active)(link_id=self.link_id)
        if link is None or not shares.may_view(link, self.user) or not await self.take_seat():
            await self.close()
            return
        if not await self.take_snapshot():  # its first snapshot is budgeted too: reconnects cannot amplify
            await self.give_back_seat()
            await self.refuse_fair_use(TOO_MANY_SNAPSHOTS)
            return
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
        self.pacer = SnapshotPacer(settings.PARLEY_SYNC_INTERVAL)
        await self.accept()
        await self.send_snapshot(state)
        self.accepted = True

    async def take_seat(self) -> bool:
        """One of the link's PARLEY_SHARE_MAX_VIEWERS seats, counted across processes."""
        ledger = (await generation.get_worker()).ledger
        self.seat = uuid.uuid4().hex
        if not await ledger.claim_socket(viewers_key(self.link_id), self.seat, settings.PARLEY_SHARE_MAX_VIEWERS):
            return False
        self.seats = ledger
        return True

    async def give_back_seat(self) -> None:
        seats, self.seats = self.seats, None
        if seats is not None:
            await seats.release_socket(viewers_key(self.link_id), self.seat)

    async def leave_everything(self) -> None:
        """However the socket ended (a handler that raised skips disconnect), its seat is given back."""
        await self.give_back_seat()
        await super().leave_everything()

    async def disconnect(self, code: int) -> None:
        if self.later is not None:
            self.later.cancel()
        await self.give_back_seat()
        await self.leave(self.share_group)
        if hasattr(self, "group"):
            await self.leave_conversation()

    async def handle(self, frame: protocol.ClientFrame) -> None:
        if frame.type != "sync":
            raise ProtocolError("read_only", "This is a read-only shared view.", frame.request_id)
        await self.answer_sync(frame.request_id)

    async def take_snapshot(self) -> bool:
        """A `sync` answer from the viewer's PARLEY_SNAPSHOTS_PER_MINUTE budget: a logged-in viewer's
        is their own (shared with their own chats' sockets), and a link's anonymous viewers share
        the link's, so no number of them can make the server send more than that a minute."""
        ledger = (await generation.get_worker()).ledger
        viewer = self.user.pk if self.user is not None and self.user.is_authenticated else viewers_key(self.link_id)
        return await ledger.take(viewer, "snapshots", MINUTE, settings.PARLEY_SNAPSHOTS_PER_MINUTE)

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


def viewers_key(link_id: str) -> str:
    """The ledger's key for a link's viewer seats (the ledger counts any key's sockets the same way)."""
    return f"share:{link_id}"


def share_state(link_id: str) -> selectors.ConversationState | None:
    """The link's conversation (its system prompt withheld) and the messages it shows; None once revoked."""
    link = shares.share_get_active(link_id=link_id)
    if link is None:
        return None
    conversation = link.conversation
    conversation.system_prompt = ""  # never saved: only what this viewer is sent
    messages = shares.share_messages(link=link)
    if link.mode == ShareLink.Mode.SNAPSHOT:  # nothing newer than the snapshot, not even that it exists
        return selectors.ConversationState(conversation, messages, frozenset())
    elsewhere = selectors.streaming_elsewhere(conversation=conversation, shown=messages)
    return selectors.ConversationState(conversation, messages, elsewhere)
