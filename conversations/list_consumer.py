"""The conversation list's socket, `/ws/conversations/`: a page showing no chat still hears, live,
when any chat of its user is renamed, pinned, archived or deleted (docs/protocol.md).

It only listens. It relays its user's `owner.conversation` events (realtime/owner_updates.py),
counts toward PARLEY_MAX_SOCKETS_PER_USER like a chat socket, and closes with 1008 when the login
ends (SessionGuard, through the same `user.<id>` group).
"""

from __future__ import annotations

import uuid
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from . import generation, metrics, protocol
from .realtime import fairness
from .revocation import SessionGuard

FAIR_USE = 4429  # the chat socket's close code for a per-user limit: retry later
LIST_SOCKETS = metrics.OPEN_SOCKETS.labels(endpoint="list")


class ConversationListConsumer(AsyncWebsocketConsumer):
    accepted = False  # until connect() accepts; events reaching a socket being refused are dropped
    ledger: fairness.Ledger | None = None  # the user's fair-use counts, once connect() claimed a socket

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        if self.user is None or not self.user.is_authenticated:
            await self.close()  # before accept, as the chat socket refuses
            return
        if not await self.claim_socket():
            return
        self.guard = SessionGuard(self)
        await self.guard.start()  # subscribes to user.<id> before accepting: no event slips past
        await self.accept()
        self.accepted = True
        LIST_SOCKETS.inc()

    async def claim_socket(self) -> bool:
        """One of the user's sockets, or say why not and close."""
        ledger = (await generation.get_worker()).ledger
        self.claim = uuid.uuid4().hex
        cap = settings.PARLEY_MAX_SOCKETS_PER_USER
        if await ledger.claim_socket(self.user.pk, self.claim, cap):
            self.ledger = ledger
            return True
        await self.accept()  # to say why: a refused handshake cannot carry words
        detail = f"You already have {cap} connections open; close some tabs, then reload."
        await self.send(text_data=protocol.error_frame("limit_reached", detail))
        await self.close(code=FAIR_USE)
        return False

    async def disconnect(self, code: int) -> None:
        if self.ledger is not None:
            await self.ledger.release_socket(self.user.pk, self.claim)
        if self.accepted:
            LIST_SOCKETS.dec()
        if hasattr(self, "guard"):
            await self.guard.stop()

    async def join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)

    async def leave(self, group: str) -> None:
        await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """It only listens: changes are made through the JSON API, which announces them here."""

    async def owner_conversation(self, event: dict[str, Any]) -> None:
        if self.accepted:
            await self.send(text_data=event["frame"])

    async def session_revoked(self, event: dict[str, Any]) -> None:
        await self.guard.on_revoked(event)
