"""The Redis channel layer Parley runs on: channels-redis's pub/sub layer, and nothing of its insides.

Pub/sub was chosen over RedisChannelLayer by measurement (docs/performance.md): one PUBLISH per
broadcast instead of a sorted-set write per subscriber, and no per-channel capacity that silently
drops group messages. Delivery is at most once; the resume rule (seq numbers plus snapshots) turns
any drop into a visible gap that is healed. The speed-ups it once overrode live in chatsite/compat.py.
"""

from __future__ import annotations

from channels_redis.pubsub import RedisPubSubChannelLayer

from chatsite import compat


class ParleyChannelLayer(RedisPubSubChannelLayer):
    """The two names today's broadcaster calls; it can ask chatsite.compat and `serialize` directly."""

    def group_channel(self, group: str) -> str:
        """The Redis pub/sub channel that carries `group`, as the installed channels-redis names it."""
        name = compat.group_channel_name(self, group)
        if name is None:
            raise LookupError("this channels-redis is not the verified release: publish with group_send")
        return name

    def encode(self, message: dict) -> bytes:
        """A message serialised exactly as `group_send` puts it on the wire (a public method)."""
        return self.serialize(message)
