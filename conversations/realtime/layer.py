"""The Redis channel layer Parley runs on: channels-redis's pub/sub layer, named explicitly.

Pub/sub was chosen over RedisChannelLayer by measurement (docs/performance.md): one
PUBLISH per broadcast instead of a sorted-set write per subscriber, and no per-channel
capacity that silently drops group messages. Delivery is at most once; the resume rule
(seq numbers plus snapshots) turns any drop into a visible gap that is healed.
"""

from __future__ import annotations

from channels_redis.pubsub import RedisPubSubChannelLayer


class ParleyChannelLayer(RedisPubSubChannelLayer):
    """Adds the two things the broadcaster needs to publish batches on its own connection."""

    def group_channel(self, group: str) -> str:
        """The Redis pub/sub channel that carries `group`, as the layer itself names it."""
        return f"{self._kwargs.get('prefix', 'asgi')}__group__{group}"

    def encode(self, message: dict) -> bytes:
        """A message serialised exactly as `group_send` would put it on the wire."""
        return self.serialize(message)
