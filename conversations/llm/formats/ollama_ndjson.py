"""Ollama's native `/api/chat` stream: one JSON object per line, the last one with `done: true`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from ..base import ChatMessage, Finish, Options, Usage
from ..errors import UpstreamErrorEvent
from ..http_errors import describe_error_payload
from .base import HTTPRequest, load_json


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
        body: dict[str, Any] = {"model": options.model, "messages": list(messages), "stream": True}
        if model_options:
            body["options"] = model_options
        headers = {"accept": "application/x-ndjson"}
        if api_key:  # Ollama itself has no keys, but proxies in front of it often do
            headers["authorization"] = f"Bearer {api_key}"
        return HTTPRequest(f"{base_url.rstrip('/')}/api/chat", headers, body)

    def reader(self, options: Options) -> OllamaReader:
        return OllamaReader(options.model)


class OllamaReader:
    def __init__(self, model: str) -> None:
        self.finish: Finish | None = None
        self._model = model

    def read(self, event: str | None, data: str | bytes) -> str | None:
        line = load_json(data)
        if "error" in line:
            raise UpstreamErrorEvent(describe_error_payload(line))
        text = (line.get("message") or {}).get("content") or None
        if line.get("done"):
            usage = Usage(line.get("prompt_eval_count"), line.get("eval_count"))
            self.finish = Finish(line.get("done_reason"), line.get("model") or self._model, usage)
        return text

    def end(self) -> Finish | None:
        return None
