"""The Redis channel layer Parley runs on: channels-redis's pub/sub layer, named explicitly.

Pub/sub was chosen over RedisChannelLayer by measurement (docs/performance.md): one
PUBLISH per broadcast instead of a sorted-set write per subscriber, and no per-channel
capacity that silently drops group messages. Delivery is at most once; the resume rule
(seq numbers plus snapshots) turns any drop into a visible gap that is healed. Two changes
for speed: channel inboxes are two-slot `Inbox`es, and the receive loop waits on the socket.
"""

from __future__ import annotations

import asyncio
import logging

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _wrap_close, decode_hosts

from .inbox import Inbox

logger = logging.getLogger(__name__)


class ParleyShard(RedisSingleShardConnection):
    async def _do_receiving(self) -> None:
        """channels-redis's receive loop, waiting on the socket instead of polling it.

        Its `get_message(timeout=0.1)` armed and cancelled a loop timer for every message: 8% of
        the server's time while streaming at N=300 (docs/performance.md). With no timeout,
        redis-py reads with no timer at all; a broken connection still raises at once and is
        reconnected and resubscribed by redis-py, as before.
        """
        while True:
            try:
                if self._pubsub and self._pubsub.subscribed:
                    self._receive_message(await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=None))
                else:
                    await asyncio.sleep(0.1)
            except (asyncio.CancelledError, TimeoutError, GeneratorExit):
                raise
            except BaseException:
                logger.exception("Unexpected exception in receive task")
                await asyncio.sleep(1)


class ParleyLoopLayer(RedisPubSubLoopLayer):
    def __init__(self, hosts=None, *args, **kwargs) -> None:
        super().__init__(hosts, *args, **kwargs)
        self._shards = [ParleyShard(host, self) for host in decode_hosts(hosts)]

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
