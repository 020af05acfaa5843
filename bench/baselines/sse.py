"""Reads the text out of one OpenAI-style SSE line; shared by the three baselines."""

from __future__ import annotations

import json

DONE = object()  # returned for `data: [DONE]`


def text_of(line: str) -> str | object | None:
    """The delta text of a `data:` line, DONE at the end, None for anything without text."""
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if data == "[DONE]":
        return DONE
    choices = json.loads(data).get("choices") or [{}]
    return choices[0].get("delta", {}).get("content") or None
