"""Bytes the simulator writes: HTTP/1.1 heads, chunked framing, and Chat Completions SSE events.

Event bytes are built from a per-reply prefix and suffix around each JSON-escaped token, so the
hot path is one small string format per token, not a `json.dumps` of a whole chunk.
"""

from __future__ import annotations

import json
from http import HTTPStatus

from .script import MODEL_NAME

DONE = b"data: [DONE]\n\n"
LAST_CHUNK = b"0\r\n\r\n"


def head(status: int, headers: dict[str, str]) -> bytes:
    reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Status"
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def json_response(status: int, payload: object, *, keep_alive: bool, extra: dict[str, str] | None = None) -> bytes:
    body = json.dumps(payload).encode()
    headers = {"content-type": "application/json", "content-length": str(len(body))}
    headers["connection"] = "keep-alive" if keep_alive else "close"
    return head(status, headers | (extra or {})) + body


def error_body(status: int, message: str) -> dict[str, object]:
    """An OpenAI-style error object."""
    kind = "rate_limit_error" if status == 429 else "invalid_request_error" if status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "param": None, "code": f"simulated_{status}"}}


def stream_head(keep_alive: bool) -> bytes:
    return head(
        200,
        {
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
            "transfer-encoding": "chunked",
            "connection": "keep-alive" if keep_alive else "close",
        },
    )


def chunk(payload: bytes) -> bytes:
    """One HTTP chunk of a chunked body."""
    return b"%x\r\n%s\r\n" % (len(payload), payload)


class ChunkEncoder:
    """Builds the SSE events of one reply."""

    def __init__(self, reply_id: str, created: int, model: str = MODEL_NAME) -> None:
        model_json = json.dumps(model)
        common = f'{{"id":"{reply_id}","object":"chat.completion.chunk","created":{created},"model":{model_json}'
        self._common = common
        self._token_prefix = f'data: {common},"choices":[{{"index":0,"delta":{{"content":'
        self._token_suffix = '},"finish_reason":null}]}\n\n'

    def role(self) -> bytes:
        delta = '{"role":"assistant","content":""}'
        return f'data: {self._common},"choices":[{{"index":0,"delta":{delta},"finish_reason":null}}]}}\n\n'.encode()

    def token(self, escaped: str) -> str:
        """`escaped` is the token already JSON-encoded (with its quotes)."""
        return self._token_prefix + escaped + self._token_suffix

    def tool_call(self, index: int, call_id: str, name: str, arguments: str, *, first_half_only: bool = False) -> bytes:
        """A call as vendors stream it: id and name first, then the arguments in two fragments
        (only the first of them with `first_half_only`, for a model that stalls mid-call)."""
        half = len(arguments) // 2
        head = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        pieces = [head] + [{"index": index, "function": {"arguments": a}} for a in (arguments[:half], arguments[half:])]
        return b"".join(
            f'data: {self._common},"choices":[{{"index":0,"delta":{{"tool_calls":[{json.dumps(p)}]}},'
            f'"finish_reason":null}}]}}\n\n'.encode()
            for p in pieces[: 2 if first_half_only else 3]
        )

    def finish(self, reason: str) -> bytes:
        return f'data: {self._common},"choices":[{{"index":0,"delta":{{}},"finish_reason":"{reason}"}}]}}\n\n'.encode()

    def usage(self, prompt_tokens: int, completion_tokens: int) -> bytes:
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        return f'data: {self._common},"choices":[],"usage":{json.dumps(usage)}}}\n\n'.encode()

    def error(self, message: str) -> bytes:
        return b"data: " + json.dumps(error_body(500, message)).encode() + b"\n\n"
