"""The Redis channel layer Parley runs on: channels-redis's pub/sub layer, named explicitly.

Pub/sub was chosen over RedisChannelLayer by measurement (docs/performance.md): one
PUBLISH per broadcast instead of a sorted-set write per subscriber, and no per-channel
capacity that silently drops group messages. Delivery is at most once; the resume rule
(seq numbers plus snapshots) turns any drop into a visible gap that is healed.
"""

from __future__ import annotations

import asyncio
from collections import deque

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer
from channels_redis.utils import _wrap_close


class Inbox:
    """One channel's unread messages: the part of asyncio.Queue a channel uses.

    Every socket owns a channel, so this is per-connection memory; a Queue carries four deques
    and an Event from birth, while an idle socket's inbox holds two empty slots.
    """

    __slots__ = ("items", "waiter")

    def __init__(self) -> None:
        self.items: deque[bytes] | None = None  # created on the first message
        self.waiter: asyncio.Future | None = None  # the one receive() waiting, if any

    def put_nowait(self, item: bytes) -> None:
        if self.items is None:
            self.items = deque()
        self.items.append(item)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def get(self) -> bytes:
        while not self.items:
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        return self.items.popleft()


class ParleyLoopLayer(RedisPubSubLoopLayer):
    async def _subscribe_to_channel(self, channel: str) -> None:
        self.channels[channel] = Inbox()
        await self._get_shard(channel).subscribe(channel)


class ParleyChannelLayer(RedisPubSubChannelLayer):
    """Adds what the broadcaster needs to publish on its own connection, and lighter inboxes."""

    def _get_layer(self) -> ParleyLoopLayer:
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = self._layers[loop] = ParleyLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)
        return layer

    def group_channel(self, group: str) -> str:
        """The Redis pub/sub channel that carries `group`, as the layer itself names it."""
        return f"{self._kwargs.get('prefix', 'asgi')}__group__{group}"

    def encode(self, message: dict) -> bytes:
        """A message serialised exactly as `group_send` would put it on the wire."""
        return self.serialize(message)
