"""What the model reads back from a call, made the same way wherever the tool ran: in a thread, on
the event loop, or in a worker process (which sends back only this text)."""

from __future__ import annotations

import json
from typing import Any


def as_text(value: Any) -> str:
    """A result as the model reads it: a string as it is, anything else as JSON (`default=str`),
    and what JSON cannot hold (circular references, non-string keys) as its repr."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


def failure(error: Exception) -> str:
    """A tool's exception as the model reads it."""
    if isinstance(error, TypeError):  # wrong or missing arguments, most often
        return f"The tool could not be called: {error}."
    return f"The tool failed: {type(error).__name__}: {error}"
