"""OpenAI's response objects, built in one place: models, completions, stream chunks and SSE lines."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from ..llm.base import Usage

DONE = b"data: [DONE]\n\n"


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def model_list(models: list[str]) -> dict[str, Any]:
    return {"object": "list", "data": [model_object(model) for model in models]}


def model_object(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 0, "owned_by": "parley"}


def usage_object(usage: Usage | None) -> dict[str, int] | None:
    if usage is None:
        return None
    prompt, completion = usage.prompt_tokens or 0, usage.completion_tokens or 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion(call_id: str, model: str, text: str, finish_reason: str, usage: Usage | None) -> dict[str, Any]:
    """A whole (non-streaming) chat completion."""
    return {
        "id": call_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
                "logprobs": None,
            }
        ],
        "usage": usage_object(usage) or {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def chunk(call_id: str, model: str, delta: dict[str, str], finish_reason: str | None = None) -> bytes:
    """One `chat.completion.chunk` as an SSE event."""
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
    return event(_chunk_object(call_id, model, [choice]))


def usage_chunk(call_id: str, model: str, usage: Usage | None) -> bytes:
    """The last chunk when `stream_options.include_usage` is set: no choices, the usage."""
    body = _chunk_object(call_id, model, [])
    body["usage"] = usage_object(usage) or {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    return event(body)


def error_event(error: dict[str, Any]) -> bytes:
    """A failure after the stream began: OpenAI's clients raise it as an APIError."""
    return event(error)


def event(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def _chunk_object(call_id: str, model: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": call_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
    }
