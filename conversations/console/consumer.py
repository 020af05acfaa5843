"""The live console's socket: staff with the console permission only; it relays every process's
reports, with each reply's owner and conversation title added, and closes when the login ends."""

from __future__ import annotations

import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from .. import metrics, selectors
from ..revocation import SessionGuard
from .reports import CONSOLE_GROUP

PERMISSION = "conversations.use_live_console"
CONSOLE_SOCKETS = metrics.OPEN_SOCKETS.labels(endpoint="console")


@database_sync_to_async
def may_use_console(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_staff and user.has_perm(PERMISSION))


class ConsoleConsumer(AsyncWebsocketConsumer):
    accepted = False

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        if not await may_use_console(self.user):
            await self.close()  # before accept: the handshake fails
            return
        self.owners: dict[str, tuple[str, str]] = {}  # conversation id -> (owner's username, title)
        self.guard = SessionGuard(self)
        await self.guard.start()
        await self.join(CONSOLE_GROUP)
        await self.accept()
        self.accepted = True
        CONSOLE_SOCKETS.inc()

    async def disconnect(self, code: int) -> None:
        if self.accepted:
            CONSOLE_SOCKETS.dec()
            await self.guard.stop()
            await self.leave(CONSOLE_GROUP)

    async def join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)

    async def leave(self, group: str) -> None:
        await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The console only listens; its actions are admin POSTs, which are logged."""

    async def console_report(self, event: dict[str, Any]) -> None:
        if not self.accepted:
            return
        process = event["process"]
        unknown = [r["conversation_id"] for r in process["replies"] if r["conversation_id"] not in self.owners]
        if unknown:
            self.owners.update(await database_sync_to_async(selectors.conversation_owners)(conversation_ids=unknown))
        for reply in process["replies"]:
            reply["user"], reply["title"] = self.owners.get(reply["conversation_id"], ("?", ""))
        await self.send(text_data=json.dumps({"type": "console.report", "process": process}))

    async def session_revoked(self, event: dict[str, Any]) -> None:
        await self.guard.on_revoked(event)

    async def owner_conversation(self, event: dict[str, Any]) -> None:
        """The staff member's own chats changed (realtime/owner_updates.py): nothing the console shows."""
