"""The simulator as a vision model: it says which images the last user turn carried, so tests can
see what reached the model."""

from __future__ import annotations

import base64
import binascii
from typing import Any


def describe_images(body: dict[str, Any]) -> str | None:
    """ "I received N image(s): <type>, <bytes> bytes; ...", or None when the last user turn has none."""
    images = _last_user_images(body.get("messages") or [])
    if not images:
        return None
    described = "; ".join(_describe(url) for url in images)
    return f"I received {len(images)} image{'s' if len(images) > 1 else ''}: {described}."


def _last_user_images(messages: list[Any]) -> list[str]:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if not isinstance(content, list):
                return []
            return [
                str((part.get("image_url") or {}).get("url", ""))
                for part in content
                if isinstance(part, dict) and part.get("type") == "image_url"
            ]
    return []


def _describe(url: str) -> str:
    head, _, data = url.partition(",")
    if not head.startswith("data:") or not head.endswith(";base64"):
        return "an image by URL"
    try:
        size = len(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        return "an unreadable image"
    return f"{head[5:-7]}, {size} bytes"
