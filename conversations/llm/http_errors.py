"""Turn a non-2xx upstream response into a typed `LLMError`, and read how long to wait before a retry."""

from __future__ import annotations

import email.utils
import json
import time

from .errors import (
    AuthenticationFailed,
    LLMError,
    ModelNotFound,
    RateLimited,
    UpstreamUnavailable,
)

_MAX_MESSAGE = 300


def error_for_status(status: int, body: bytes) -> LLMError:
    """The typed error for an HTTP status, with the server's own words in `detail`."""
    error = _error_class(status)(f"HTTP {status}: {error_message(body)}")
    error.status = status
    return error


def _error_class(status: int) -> type[LLMError]:
    if status in (401, 403):
        return AuthenticationFailed
    if status == 404:
        return ModelNotFound
    if status == 429:
        return RateLimited
    if status >= 500:
        return UpstreamUnavailable
    return LLMError


def is_retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def error_message(body: bytes) -> str:
    """The readable part of an error body: OpenAI/Anthropic `error.message`, Ollama `error`, else the text."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        payload = json.loads(text)
    except ValueError:
        return text[:_MAX_MESSAGE] or "(empty body)"
    return describe_error_payload(payload)[:_MAX_MESSAGE]


def describe_error_payload(payload: object) -> str:
    """Words from any of the vendors' error shapes: {"error": {"message"}}, {"error": "..."}, {"message"}."""
    if isinstance(payload, dict):
        error = payload.get("error", payload)
        if isinstance(error, str):
            return error
        if isinstance(error, dict):
            message = error.get("message") or error.get("type")
            if message:
                return str(message)
    return json.dumps(payload)[:_MAX_MESSAGE]


def retry_after_seconds(value: str | None) -> float | None:
    """Parse a Retry-After header: delta seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)
