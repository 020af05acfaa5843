"""OpenAI Chat Completions streaming: `data: {chunk}` SSE events ending with `data: [DONE]`.

Usage is asked for with `stream_options.include_usage`; it then arrives in a last chunk with empty
`choices`. Servers that ignore the option (or never send [DONE] after a `finish_reason`) still work.
Tools go out as `tools`; the calls stream back as `delta.tool_calls` fragments keyed by index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from ..base import ChatMessage, Finish, Options, Usage
from ..errors import UpstreamErrorEvent, UpstreamProtocolError
from ..http_errors import describe_error_payload
from .base import HTTPRequest, load_json
from .tool_calls import ToolCallBuffer, function_tools


class ChatCompletions:
    framing: ClassVar[Literal["sse", "ndjson"]] = "sse"

    def build_request(
        self, base_url: str, api_key: str, messages: Sequence[ChatMessage], options: Options
    ) -> HTTPRequest:
        body: dict[str, Any] = {
            "model": options.model,
            "messages": [encode_message(m) for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if options.tools:
            body["tools"] = function_tools(options.tools)
        if options.temperature is not None:
            body["temperature"] = options.temperature
        if options.max_tokens is not None:
            body["max_tokens"] = options.max_tokens
        headers = {"accept": "text/event-stream"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        return HTTPRequest(f"{base_url.rstrip('/')}/chat/completions", headers, body)

    def reader(self, options: Options) -> ChatCompletionsReader:
        return ChatCompletionsReader(options.model)


def encode_message(message: ChatMessage) -> dict[str, Any]:
    """A turn in the Chat Completions shape: tool calls on the assistant turn, results as `tool` turns."""
    if result := message.get("tool_result"):
        return {"role": "tool", "tool_call_id": result.call_id, "content": result.content}
    if calls := message.get("tool_calls"):
        return {
            "role": "assistant",
            "content": message["content"] or None,
            "tool_calls": [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls
            ],
        }
    if images := message.get("images"):
        parts: list[dict[str, Any]] = [{"type": "text", "text": message["content"]}] if message["content"] else []
        parts += [
            {"type": "image_url", "image_url": {"url": f"data:{i.media_type};base64,{i.base64()}"}} for i in images
        ]
        return {"role": message["role"], "content": parts}
    return {"role": message["role"], "content": message["content"]}


class ChatCompletionsReader:
    def __init__(self, model: str) -> None:
        self.finish: Finish | None = None
        self._model = model
        self._reason: str | None = None
        self._usage: Usage | None = None
        self.tools = ToolCallBuffer()

    def read(self, event: str | None, data: str | bytes) -> str | None:
        if data == "[DONE]":
            self.finish = self._finish()
            return None
        chunk = load_json(data)
        if "error" in chunk:
            raise UpstreamErrorEvent(describe_error_payload(chunk))
        self._model = chunk.get("model") or self._model
        if usage := chunk.get("usage"):
            self._usage = Usage(usage.get("prompt_tokens"), usage.get("completion_tokens"))
        choices = chunk.get("choices")
        if not choices:
            return None
        try:
            choice = choices[0]
            self._reason = choice.get("finish_reason") or self._reason
            delta = choice.get("delta") or {}
            for call in delta.get("tool_calls") or ():
                self._read_tool_call(call)
            return delta.get("content") or None
        except (AttributeError, IndexError, TypeError) as exc:
            raise UpstreamProtocolError(f"unexpected chunk shape: {str(data)[:120]!r}") from exc

    def _read_tool_call(self, call: dict[str, Any]) -> None:
        index = call.get("index", 0)
        function = call.get("function") or {}
        self.tools.start(index, call.get("id"), function.get("name"))
        if arguments := function.get("arguments"):
            self.tools.add_arguments(index, arguments)

    def end(self) -> Finish | None:
        return self._finish() if self._reason else None

    def _finish(self) -> Finish:
        return Finish(self._reason, self._model, self._usage, self.tools.calls())
