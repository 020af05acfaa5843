"""The Redis channel layer Parley runs on: channels-redis's pub/sub layer, named explicitly.

Pub/sub was chosen over RedisChannelLayer by measurement (docs/performance.md): one
PUBLISH per broadcast instead of a sorted-set write per subscriber, and no per-channel
capacity that silently drops group messages. Delivery is at most once; the resume rule
(seq numbers plus snapshots) turns any drop into a visible gap that is healed.
"""

from __future__ import annotations

import asyncio

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer
from channels_redis.utils import _wrap_close

from .inbox import Inbox


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
