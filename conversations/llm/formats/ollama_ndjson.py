"""Ollama's native `/api/chat` stream: one JSON object per line, the last one with `done: true`.

Tools go out in the Chat Completions shape; a line's `message.tool_calls` carries whole calls, with
their arguments as objects and no ids (Parley numbers them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from ..base import ChatMessage, Finish, Options, Usage
from ..errors import UpstreamErrorEvent
from ..http_errors import describe_error_payload
from .base import HTTPRequest, load_json
from .tool_calls import ToolCallBuffer, arguments_object, function_tools


class OllamaNDJSON:
    framing: ClassVar[Literal["sse", "ndjson"]] = "ndjson"

    def build_request(
        self, base_url: str, api_key: str, messages: Sequence[ChatMessage], options: Options
    ) -> HTTPRequest:
        model_options: dict[str, Any] = {}
        if options.temperature is not None:
            model_options["temperature"] = options.temperature
        if options.max_tokens is not None:
            model_options["num_predict"] = options.max_tokens
        messages_out = [encode_message(m) for m in messages]
        body: dict[str, Any] = {"model": options.model, "messages": messages_out, "stream": True}
        if options.tools:
            body["tools"] = function_tools(options.tools)
        if model_options:
            body["options"] = model_options
        headers = {"accept": "application/x-ndjson"}
        if api_key:  # Ollama itself has no keys, but proxies in front of it often do
            headers["authorization"] = f"Bearer {api_key}"
        return HTTPRequest(f"{base_url.rstrip('/')}/api/chat", headers, body)

    def reader(self, options: Options) -> OllamaReader:
        return OllamaReader(options.model)


def encode_message(message: ChatMessage) -> dict[str, Any]:
    """A turn in Ollama's shape: calls with object arguments, results as `tool` turns naming the tool."""
    if result := message.get("tool_result"):
        return {"role": "tool", "content": result.content, "tool_name": result.name}
    if calls := message.get("tool_calls"):
        return {
            "role": "assistant",
            "content": message["content"],
            "tool_calls": [{"function": {"name": c.name, "arguments": arguments_object(c.arguments)}} for c in calls],
        }
    if images := message.get("images"):
        return {"role": message["role"], "content": message["content"], "images": [i.base64() for i in images]}
    return {"role": message["role"], "content": message["content"]}


class OllamaReader:
    def __init__(self, model: str) -> None:
        self.finish: Finish | None = None
        self._model = model
        self.tools = ToolCallBuffer()
        self._calls = 0

    def read(self, event: str | None, data: str | bytes) -> str | None:
        line = load_json(data)
        if "error" in line:
            raise UpstreamErrorEvent(describe_error_payload(line))
        message = line.get("message") or {}
        for call in message.get("tool_calls") or ():
            self._read_tool_call(call)
        text = message.get("content") or None
        if line.get("done"):
            usage = Usage(line.get("prompt_eval_count"), line.get("eval_count"))
            model = line.get("model") or self._model
            self.finish = Finish(line.get("done_reason"), model, usage, self.tools.calls())
        return text

    def _read_tool_call(self, call: dict[str, Any]) -> None:
        function = call.get("function") or {}
        index, self._calls = self._calls, self._calls + 1
        self.tools.start(index, call.get("id") or f"call_{index}", function.get("name"))
        arguments = function.get("arguments")
        self.tools.add_arguments(index, arguments if isinstance(arguments, str) else json.dumps(arguments or {}))

    def end(self) -> Finish | None:
        return None
