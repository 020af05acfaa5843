"""What a wire format supplies to the shared streaming flow, and nothing more.

A format builds the HTTP request and hands out a fresh `EventReader` per reply. The reader sees
one parsed event at a time (an SSE event, or one NDJSON line) and returns the text delta it
carries, if any; once the reply is complete it sets `finish`. It raises `UpstreamErrorEvent` for
an error sent inside the stream and `UpstreamProtocolError` for data it cannot understand.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

import orjson

from ..base import ChatMessage, Finish, Options
from ..errors import UpstreamProtocolError
from .tool_calls import ToolCallBuffer


@dataclass(frozen=True, slots=True)
class HTTPRequest:
    url: str
    headers: dict[str, str]
    body: dict[str, Any]


class EventReader(Protocol):
    finish: Finish | None
    tools: ToolCallBuffer  # the tool calls streamed so far

    def read(self, event: str | None, data: str | bytes) -> str | None:
        """Return the text this event adds (None if none); set `finish` when the reply is complete."""
        ...

    def end(self) -> Finish | None:
        """The stream closed: the finish if the reply was in fact complete, else None."""
        ...


class WireFormat(Protocol):
    framing: ClassVar[Literal["sse", "ndjson"]]

    def build_request(
        self, base_url: str, api_key: str, messages: Sequence[ChatMessage], options: Options
    ) -> HTTPRequest: ...

    def reader(self, options: Options) -> EventReader: ...


def load_json(data: str | bytes) -> dict[str, Any]:
    """Parse one event's JSON object, or raise `UpstreamProtocolError` quoting the bad data.

    A reply is one event per token, so this runs per token: orjson parses them about three times
    faster than json (docs/performance.md). What orjson refuses and json accepts (NaN, an escaped
    lone surrogate) is still parsed by json, so no stream that parsed before fails now."""
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:
            payload = json.loads(data)
        except ValueError as exc:
            raise UpstreamProtocolError(f"malformed JSON in stream: {_quote(data)}") from exc
    if not isinstance(payload, dict):
        raise UpstreamProtocolError(f"expected a JSON object in stream: {_quote(data)}")
    return payload


def _quote(data: str | bytes) -> str:
    text = data if isinstance(data, str) else data.decode("utf-8", errors="replace")
    return repr(text[:120])
