"""The database side of a reply's life: start (start.py; many at once, together.py), edit, regenerate and continue
(branches.py), then parts, checkpoints, the final save and recovery (ending.py). The statements
every reply runs are SQL in sql.py; everything else uses the ORM."""

from __future__ import annotations

from .branches import reply_continue, reply_edit, reply_regenerate
from .ending import (
    INTERRUPTED_ERROR,
    FinalState,
    ReplyEnd,
    replies_checkpoint,
    replies_finish,
    replies_stale,
    reply_finish,
    reply_parts_save,
    reply_recover,
    reply_titled,
)
from .start import TITLE_FROM_MESSAGE, ReplyRefused, ReplyStart, reply_start
from .together import StartRequest, replies_start

__all__ = [
    "INTERRUPTED_ERROR",
    "TITLE_FROM_MESSAGE",
    "FinalState",
    "ReplyEnd",
    "ReplyRefused",
    "ReplyStart",
    "StartRequest",
    "replies_checkpoint",
    "replies_finish",
    "replies_stale",
    "replies_start",
    "reply_continue",
    "reply_edit",
    "reply_finish",
    "reply_parts_save",
    "reply_recover",
    "reply_regenerate",
    "reply_start",
    "reply_titled",
]
