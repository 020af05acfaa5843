"""A consumer mixin for when Redis is down: the socket is still served, by its own process.

Channels' consumer asks the layer for a channel before anything else, and with Redis down that
raised and daphne answered HTTP 500. The socket is then served without a layer: this process's
frames reach it through `local.sockets` (realtime/local.py), and it is told live sync is degraded.
"""

from __future__ import annotations

import logging
from typing import Any

from chatsite import compat

from .. import failures, protocol
from ..revocation import user_group

logger = logging.getLogger(__name__)

LAYERLESS = "parley-layerless"  # a channel-layer alias that is never configured: a socket served without Redis
LIVE_SYNC_BACK = 1001  # close code telling a socket served without Redis to reconnect now that Redis is back


class LiveSyncFallback:
    live_sync = "ok"  # "degraded" while this socket only hears this process (Redis unreachable)

    async def __call__(self, scope, receive, send) -> None:
        """With Redis down the layer cannot give this socket a channel (Channels' consumer raised, and
        daphne answered HTTP 500): serve it from this process alone, degraded, instead."""
        try:
            await super().__call__(scope, receive, send)
        except failures.LINK_ERRORS:
            if self.channel_layer_alias == LAYERLESS or hasattr(self, "channel_name"):
                raise  # it failed after the channel was made: not the handshake's subscription
            logger.warning("Redis is unreachable: a socket is served by this process alone")
            self.channel_layer_alias = LAYERLESS
            self.live_sync = "degraded"
            await super().__call__(scope, receive, send)
        finally:
            await self.leave_everything()

    async def leave_everything(self) -> None:
        """However the consumer ended (a handler that raised skipped its disconnect), it leaves its
        groups and gives back its channel if the layer kept it (chatsite/compat.py): nothing of a
        closed socket stays subscribed in Redis. Each step does nothing if already done."""
        try:
            if hasattr(self, "guard"):
                await self.guard.stop()
            if hasattr(self, "group"):
                await self.leave_conversation()
            if self.ledger is not None:
                await self.ledger.release_socket(self.user.pk, self.claim)
            if getattr(self, "channel_layer", None) is not None and hasattr(self, "channel_name"):
                await compat.release_channel(self.channel_layer, self.channel_name)
        except failures.LINK_ERRORS:  # with Redis gone, the subscriptions went with the connection
            logger.debug("Could not release the subscriptions of channel %s", self.channel_name, exc_info=True)

    async def join(self, group: str) -> None:
        """Subscribe to `group`; with Redis down this process's frames still arrive (realtime/local.py)."""
        if self.channel_layer is None:
            return
        try:
            await self.channel_layer.group_add(group, self.channel_name)
        except failures.LINK_ERRORS as error:
            logger.warning("Could not subscribe a socket to %s: %s", group, error)
            self.live_sync = "degraded"

    async def leave(self, group: str) -> None:
        if self.channel_layer is None:
            return
        try:
            await self.channel_layer.group_discard(group, self.channel_name)
        except failures.LINK_ERRORS:  # the subscription died with the Redis connection anyway
            logger.debug("Could not unsubscribe a socket from %s", group, exc_info=True)

    async def relay(self, message: dict[str, Any]) -> None:
        """A frame this process could not publish through Redis, handed over directly."""
        if message["type"] == "chat.delta":
            await self.chat_delta(message)
        elif message["type"] == "chat.frame":
            await self.chat_frame(message)

    async def live_sync_changed(self, degraded: bool) -> None:
        """Tell the client. Once Redis is back, a socket served without it reconnects; the others
        subscribe again (a subscription refused during the outage is not retried by the layer) and
        get a snapshot, which holds whatever other processes published meanwhile."""
        if not self.accepted:
            return
        if not degraded and self.channel_layer is None:
            await self.close(code=LIVE_SYNC_BACK)
            return
        self.live_sync = "degraded" if degraded else "ok"
        await self.send(text_data=protocol.connection_status_frame(self.live_sync))
        if not degraded:
            await self.join(self.group)
            await self.join(user_group(self.user.pk))
            await self.send_snapshot()
