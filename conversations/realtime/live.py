"""One streaming reply's in-memory state: the accumulator that owns its text and seq.

Tokens are appended as they arrive; the broadcaster turns what is pending into one
numbered delta per flush. `content` and `seq` always describe published text only,
so a snapshot built from them plus later deltas reproduces the reply exactly.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable


class LiveReply:
    __slots__ = (
        "conversation_id",
        "dirty_at",
        "group",
        "id",
        "id_str",
        "interrupted",
        "live_stale",
        "mark_dirty",
        "parts",
        "pending",
        "seq",
    )

    def __init__(self, reply_id: uuid.UUID, conversation_id: uuid.UUID, group: str, mark_dirty: Callable) -> None:
        self.id = reply_id
        self.id_str = str(reply_id)
        self.conversation_id = conversation_id
        self.group = group
        self.mark_dirty = mark_dirty  # tells the broadcaster this reply has text to flush
        self.parts: list[str] = []  # published deltas, in seq order
        self.pending: list[str] = []  # received since the last flush
        self.dirty_at = 0.0  # when the oldest pending text arrived (the broadcaster sets it)
        self.seq = 0
        self.live_stale = False  # a lost Redis write means the resume state must be rewritten whole
        self.interrupted = False  # stopped because the server is shutting down, not by a user

    def append(self, text: str) -> None:
        if not text:
            return
        if not self.pending:
            self.mark_dirty(self)
        self.pending.append(text)

    def take_delta(self) -> str | None:
        """Publish what is pending as the next delta, or None when nothing is."""
        if not self.pending:
            return None
        delta = "".join(self.pending) if len(self.pending) > 1 else self.pending[0]
        self.pending.clear()
        self.parts.append(delta)
        self.seq += 1
        return delta

    @property
    def content(self) -> str:
        return "".join(self.parts)

    def content_through(self, seq: int) -> str:
        return "".join(self.parts[:seq])
