"""Anthropic Messages streaming: named SSE events from `message_start` to `message_stop`.

The system prompt travels top-level, not as a message. Text comes from `content_block_delta`
events of type `text_delta`; `message_delta` carries the stop reason and output token count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from ..base import ChatMessage, Finish, Options, Usage
from ..errors import UpstreamErrorEvent
from ..http_errors import describe_error_payload
from .base import HTTPRequest, load_json

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096  # the API requires max_tokens; this is used when none is configured


class AnthropicMessages:
    framing: ClassVar[Literal["sse", "ndjson"]] = "sse"

    def build_request(
        self, base_url: str, api_key: str, messages: Sequence[ChatMessage], options: Options
    ) -> HTTPRequest:
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        body: dict[str, Any] = {
            "model": options.model,
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages if m["role"] != "system"],
            "max_tokens": options.max_tokens or DEFAULT_MAX_TOKENS,
            "stream": True,
        }
        if system:
            body["system"] = system
        if options.temperature is not None:
            body["temperature"] = options.temperature
        headers = {"accept": "text/event-stream", "anthropic-version": API_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        return HTTPRequest(f"{base_url.rstrip('/')}/v1/messages", headers, body)

    def reader(self, options: Options) -> AnthropicReader:
        return AnthropicReader(options.model)


class AnthropicReader:
    def __init__(self, model: str) -> None:
        self.finish: Finish | None = None
        self._model = model
        self._reason: str | None = None
        self._prompt_tokens: int | None = None
        self._completion_tokens: int | None = None

    def read(self, event: str | None, data: str | bytes) -> str | None:
        if event == "ping":
            return None
        payload = load_json(data)
        kind = event or payload.get("type")
        if kind == "content_block_delta":
            delta = payload.get("delta") or {}
            if delta.get("type") != "text_delta":
                return None  # e.g. input_json_delta or thinking_delta: not reply text
            return delta.get("text") or None
        if kind == "message_start":
            self._start(payload.get("message") or {})
        elif kind == "message_delta":
            self._reason = (payload.get("delta") or {}).get("stop_reason") or self._reason
            self._completion_tokens = (payload.get("usage") or {}).get("output_tokens", self._completion_tokens)
        elif kind == "message_stop":
            self.finish = self._finish()
        elif kind == "error":
            raise UpstreamErrorEvent(describe_error_payload(payload))
        return None

    def end(self) -> Finish | None:
        return None  # a reply is complete only at message_stop

    def _start(self, message: dict[str, Any]) -> None:
        self._model = message.get("model") or self._model
        usage = message.get("usage") or {}
        self._prompt_tokens = usage.get("input_tokens")
        self._completion_tokens = usage.get("output_tokens")

    def _finish(self) -> Finish:
        return Finish(self._reason, self._model, Usage(self._prompt_tokens, self._completion_tokens))
