"""Each streaming reply's resume state in Redis: the text and seq it has published so far.

A socket subscribes to its conversation's group, then reads this state for its snapshot, so the
state of a delta is always written before that delta's frame is published (the resume rule,
docs/architecture.md). A flush writes the state of all its deltas in one script call, which on
the fast path publishes their frames in the same call: a command per delta made redis-py's
packing and reading a large share of the server's time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from redis import asyncio as aioredis
from redis.exceptions import NoScriptError

from ..failures import LINK_ERRORS

if TYPE_CHECKING:
    from .broadcast import LiveReply

LIVE_TTL = 3600  # seconds a reply's resume state outlives its last write
SCRIPT_BATCH = 1000  # entries per script call; a larger flush is split, in order, in one pipeline

# A flush in one call (the fast path). ARGV[1] is the resume state's TTL; then each entry is a
# kind, a pub/sub channel and a payload. A whole frame ("f") is only published. A delta ("a"
# appends to the resume text, "r" rewrites it whole) adds its text and seq, and takes the next two
# KEYS (the reply's text and seq keys): its resume state is updated before its frame is published.
# An append is made only onto the state of the delta before it (stored seq = seq - 1): after a
# Redis restart wiped the state, appending would leave a tail posing as the whole text, which a
# snapshot or the recovery path would then trust. Such a delta leaves the state absent, and its
# text key is returned so the broadcaster rewrites the state whole on its next flush. An empty
# channel writes the resume state only (the public path publishes through the layer afterwards).
PUBLISH_BATCH = """
local ttl = ARGV[1]
local skipped = {}
local i, k = 2, 1
while i <= #ARGV do
  local kind = ARGV[i]
  if kind == 'r' then
    redis.call('SET', KEYS[k], ARGV[i + 3], 'EX', ttl)
    redis.call('SET', KEYS[k + 1], ARGV[i + 4], 'EX', ttl)
  elseif kind == 'a' then
    if tonumber(redis.call('GET', KEYS[k + 1]) or '0') == tonumber(ARGV[i + 4]) - 1 then
      redis.call('APPEND', KEYS[k], ARGV[i + 3])
      redis.call('EXPIRE', KEYS[k], ttl)
      redis.call('SET', KEYS[k + 1], ARGV[i + 4], 'EX', ttl)
    else
      skipped[#skipped + 1] = KEYS[k]
    end
  end
  if ARGV[i + 1] ~= '' then
    redis.call('PUBLISH', ARGV[i + 1], ARGV[i + 2])
  end
  if kind == 'f' then i = i + 3 else i, k = i + 5, k + 2 end
end
return skipped
"""

Entry = tuple[str, dict[str, Any], "LiveReply | None"]  # group, channel-layer message, the delta's reply


def live_keys(reply_id: str) -> tuple[str, str]:
    return f"parley:live:{reply_id}:text", f"parley:live:{reply_id}:seq"


class ResumeState:
    def __init__(self, redis: aioredis.Redis, layer: Any) -> None:
        self.redis = redis
        self.layer = layer  # serialises a frame's channel-layer message as group_send would
        self.script_sha: str | None = None  # PUBLISH_BATCH, loaded on first use and after a restart

    async def load_script(self) -> None:
        """Load the script now, so the first reply's first flush does not pay for it."""
        self.script_sha = await self.redis.script_load(PUBLISH_BATCH)

    async def write(self, batch: list[Entry], publish_on: Callable[[str], str] | None = None) -> None:
        """Write the resume state of the batch's deltas, in one round trip; with `publish_on` (the
        Redis channel of a group), publish every entry's frame in the same script calls."""
        if self.script_sha is None:
            await self.load_script()
        async with self.redis.pipeline(transaction=False) as pipe:
            for start in range(0, len(batch), SCRIPT_BATCH):
                keys: list[str] = []
                args: list[Any] = [LIVE_TTL]
                for group, message, reply in batch[start : start + SCRIPT_BATCH]:
                    if publish_on is not None:
                        channel, payload = publish_on(group), self.layer.serialize(message)
                    elif reply is None:
                        continue
                    else:
                        channel, payload = "", ""
                    if reply is None:
                        args += ("f", channel, payload)
                        continue
                    seq = message["seq"]
                    text = reply.content_through(seq) if reply.live_stale else reply.parts[seq - 1]
                    keys += live_keys(reply.id_str)
                    args += ("r" if reply.live_stale else "a", channel, payload, text, seq)
                pipe.evalsha(self.script_sha, len(keys), *keys, *args)
            try:
                results = await pipe.execute()
            except NoScriptError:
                self.script_sha = None  # Redis restarted and forgot the script
                raise
        skipped = {key.decode() for keys in results for key in keys}
        for _, _, reply in batch:
            if reply is not None:  # a state found gone (a Redis restart) is rewritten whole next time
                reply.live_stale = bool(skipped) and live_keys(reply.id_str)[0] in skipped

    async def read(self, reply_id: str) -> tuple[str, int] | None:
        """The published text and seq of a reply streaming in any process."""
        try:
            text, seq = await self.redis.mget(live_keys(reply_id))
        except LINK_ERRORS:  # Redis is down: the snapshot keeps the reply's last checkpoint
            return None
        if seq is None:
            return None
        return (text or b"").decode("utf-8"), int(seq)
