"""The generation service: the one entry point that starts, regenerates and stops replies.

The socket consumer, the JSON API, the /v1/ API and manage.py commands all call `start`, `edit`,
`regenerate`, `continue_reply` and `stop` (service.py). A started reply runs as a task of this
process's `Worker` (worker.py), never inside its caller, so a closed tab or a finished HTTP request
changes nothing, and whatever ends a reply, it ends in `Worker.finish`.
"""

from __future__ import annotations

from .config import catalog_provider, provider_config, reply_options
from .process import get_worker, load_catalog, shut_down, warm_up
from .service import (
    Refused,
    ReplyStart,
    continue_reply,
    edit,
    live_state,
    preview_parts,
    regenerate,
    start,
    stop,
    stop_after_commit,
)
from .worker import INTERNAL_ERROR, KEY_UNREADABLE, Worker, stop_message

__all__ = [
    "INTERNAL_ERROR",
    "KEY_UNREADABLE",
    "Refused",
    "ReplyStart",
    "Worker",
    "catalog_provider",
    "continue_reply",
    "edit",
    "get_worker",
    "live_state",
    "load_catalog",
    "preview_parts",
    "provider_config",
    "regenerate",
    "reply_options",
    "shut_down",
    "start",
    "stop",
    "stop_after_commit",
    "stop_message",
    "warm_up",
]
