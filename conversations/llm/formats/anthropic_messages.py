"""Anthropic Messages streaming: named SSE events from `message_start` to `message_stop`.

The system prompt travels top-level, not as a message. Text comes from `content_block_delta`
events of type `text_delta`; `message_delta` carries the stop reason and output token count.
A tool call is a `tool_use` content block whose input streams as `input_json_delta` fragments;
results go back as `tool_result` blocks in one user turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from ..base import ChatMessage, Finish, Options, Usage
from ..errors import UpstreamErrorEvent
from ..http_errors import describe_error_payload
from .base import HTTPRequest, load_json
from .tool_calls import ToolCallBuffer, arguments_object

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
            "messages": encode_messages(messages),
            "max_tokens": options.max_tokens or DEFAULT_MAX_TOKENS,
            "stream": True,
        }
        if options.tools:
            body["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in options.tools
            ]
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


def encode_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """The turns without the system prompt; a tool call is a `tool_use` block of its assistant turn,
    and consecutive results share one user turn, as the API requires."""
    encoded: list[dict[str, Any]] = []
    for message in messages:
        if message["role"] == "system":
            continue
        if result := message.get("tool_result"):
            block = {"type": "tool_result", "tool_use_id": result.call_id, "content": result.content}
            if result.is_error:
                block["is_error"] = True
            if encoded and encoded[-1]["role"] == "user" and isinstance(encoded[-1]["content"], list):
                encoded[-1]["content"].append(block)
            else:
                encoded.append({"role": "user", "content": [block]})
        elif calls := message.get("tool_calls"):
            blocks: list[dict[str, Any]] = [{"type": "text", "text": message["content"]}] if message["content"] else []
            blocks += [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": arguments_object(c.arguments)} for c in calls
            ]
            encoded.append({"role": "assistant", "content": blocks})
        elif images := message.get("images"):
            content: list[dict[str, Any]] = [
                {"type": "image", "source": {"type": "base64", "media_type": i.media_type, "data": i.base64()}}
                for i in images
            ]
            if message["content"]:
                content.append({"type": "text", "text": message["content"]})
            encoded.append({"role": message["role"], "content": content})
        else:
            encoded.append({"role": message["role"], "content": message["content"]})
    return encoded


class AnthropicReader:
    def __init__(self, model: str) -> None:
        self.finish: Finish | None = None
        self._model = model
        self._reason: str | None = None
        self._prompt_tokens: int | None = None
        self._completion_tokens: int | None = None
        self.tools = ToolCallBuffer()

    def read(self, event: str | None, data: str | bytes) -> str | None:
        if event == "ping":
            return None
        payload = load_json(data)
        kind = event or payload.get("type")
        if kind == "content_block_delta":
            delta = payload.get("delta") or {}
            if delta.get("type") == "input_json_delta":
                self.tools.add_arguments(payload.get("index", 0), delta.get("partial_json") or "")
                return None
            if delta.get("type") != "text_delta":
                return None  # e.g. thinking_delta: not reply text
            return delta.get("text") or None
        if kind == "content_block_start":
            block = payload.get("content_block") or {}
            if block.get("type") == "tool_use":
                self.tools.start(payload.get("index", 0), block.get("id"), block.get("name"))
        elif kind == "message_start":
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
        usage = Usage(self._prompt_tokens, self._completion_tokens)
        return Finish(self._reason, self._model, usage, self.tools.calls())
