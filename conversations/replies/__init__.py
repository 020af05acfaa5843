"""The database side of a reply's life: start (start.py, a batch of sends at once; its refusals in
rules.py, its new rows in rows.py, its prompt in prompt.py), edit, regenerate and continue
(branches.py), then parts, checkpoints, the final save and recovery (ending.py). The checkpoint and
the final save are SQL statements (sql.py); everything else uses the ORM."""

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
from .rows import TITLE_FROM_MESSAGE
from .rules import ReplyRefused
from .start import Outcome, ReplyStart, StartRequest, replies_start, reply_start

__all__ = [
    "INTERRUPTED_ERROR",
    "TITLE_FROM_MESSAGE",
    "FinalState",
    "Outcome",
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
