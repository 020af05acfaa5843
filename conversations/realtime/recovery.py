"""The recovery path: what a reply is saved with when its own process could not save it.

A reply's process normally saves its final state itself (`Worker.finish`). When that save keeps
failing, the process writes the final state to Redis under the reply's id (the hand-off), and
whichever process later sweeps the reply saves that instead of the last checkpoint. A process that
died without a hand-off still left the reply's published text in Redis (its resume state,
broadcast.py), usually ahead of the checkpoint. The sweep saves the fullest of these it can prove
belongs to the reply: the key names the reply's own id (never reused, a regenerated reply gets a
new one), and the text must extend the checkpoint, at a seq no lower than the checkpoint's.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid

from redis import asyncio as aioredis

from ..models import Message
from ..replies import INTERRUPTED_ERROR, FinalState
from .resume_state import live_keys

logger = logging.getLogger(__name__)

Status = Message.Status
HANDOFF_TTL = 7 * 24 * 3600  # seconds a hand-off waits for a sweep: longer than any outage worth surviving


def handoff_key(reply_id: uuid.UUID | str) -> str:
    return f"parley:final:{reply_id}"


async def hand_off(redis: aioredis.Redis | None, reply_id: uuid.UUID | str, final: FinalState) -> bool:
    """Leave a reply's final state for the sweep; False when there is no Redis to leave it in."""
    if redis is None:
        return False
    try:
        await redis.set(handoff_key(reply_id), final.to_json(), ex=HANDOFF_TTL)
    except Exception:
        logger.exception("Could not hand reply %s over to the recovery path", reply_id)
        return False
    return True


async def forget(redis: aioredis.Redis | None, reply_id: uuid.UUID | str) -> None:
    """The reply is saved: its hand-off has served."""
    if redis is not None:
        await redis.delete(handoff_key(reply_id))


def checkpointed(reply: Message) -> FinalState:
    """What the sweep saves when nothing fuller is proven: the checkpoint, as interrupted."""
    return FinalState(
        content=reply.content,
        seq=reply.seq,
        status=Status.INTERRUPTED,
        error=INTERRUPTED_ERROR,
        parts=list(reply.parts or []),
    )


async def fullest_state(redis: aioredis.Redis | None, reply: Message) -> FinalState:
    """The fullest final state proven for an orphaned reply, read from Redis and its checkpoint."""
    checkpoint = checkpointed(reply)
    if redis is None:
        return checkpoint
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(handoff_key(reply.id)).mget(live_keys(str(reply.id)))
        handed, (text, seq) = await pipe.execute()
    live = None
    if seq is not None:
        live = dataclasses.replace(checkpoint, content=(text or b"").decode("utf-8"), seq=int(seq))
    return fullest(checkpoint, FinalState.from_json(handed) if handed else None, live)


def fullest(checkpoint: FinalState, handed: FinalState | None, live: FinalState | None) -> FinalState:
    """A hand-off that extends the checkpoint (it carries the true outcome), else live text that
    extends it further, else the checkpoint itself."""
    if handed is not None and handed.extends(checkpoint):
        return handed
    if live is not None and live.extends(checkpoint) and live.seq > checkpoint.seq:
        return live
    return checkpoint
