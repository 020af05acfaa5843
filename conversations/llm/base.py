"""The provider contract: messages in, an async stream of text deltas and one Finish out.

Providers import nothing from Django and never touch the database or the channel layer.
Text deltas are plain `str` objects, so the hot path allocates nothing per chunk beyond
the text itself; the stream ends with exactly one `Finish`. The same stream is also offered
as callbacks (`stream_to`), which the realtime path uses: no task wakes per delta.

Tools are described to a provider (`Options.tools`) and the calls a model asks for come back on
the `Finish` (and, while they stream, through `on_tool_calls`); running them and sending their
results back is the caller's job (docs/tools.md).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NotRequired, Protocol, TypedDict


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool as a model sees it: a name, what it is for, and a JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call a model asked for; `arguments` is its JSON text as sent, which may be malformed."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A tool's answer to one call, sent back to the model in the next request."""

    call_id: str
    name: str
    content: str
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class Image:
    """An image sent with a turn, for models that accept images; each wire format encodes it."""

    media_type: str  # e.g. "image/png"
    data: bytes

    def base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")


class ChatMessage(TypedDict):
    role: str  # "system", "user", "assistant" or "tool"
    content: str
    tool_calls: NotRequired[list[ToolCall]]  # an assistant turn that asked for tools
    tool_result: NotRequired[ToolResult]  # a "tool" turn
    images: NotRequired[list[Image]]  # a user turn's images


@dataclass(frozen=True, slots=True)
class Options:
    """Per-request settings; None means "let the provider decide"."""

    model: str
    temperature: float | None = None
    max_tokens: int | None = None
    tools: tuple[ToolSpec, ...] = ()  # offered to the model; empty means none


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Finish:
    """The last event of every successful stream."""

    reason: str | None
    model: str
    usage: Usage | None = None
    tool_calls: tuple[ToolCall, ...] = ()  # the model stopped to ask for these


Event = str | Finish


class StreamingCalls(Protocol):
    """The tool calls of a reply as they stream in (`stream_to`'s `on_tool_calls` is handed this)."""

    def named(self) -> int:
        """How many calls have their name so far."""
        ...

    def so_far(self) -> tuple[ToolCall, ...]:
        """Every call so far, its arguments as far as they arrived; a call may not have its name yet."""
        ...


class Provider(Protocol):
    """What `registry.get_provider()` returns."""

    name: ClassVar[str]

    def stream(self, messages: Sequence[ChatMessage], options: Options) -> AsyncIterator[Event]:
        """Yield text deltas (`str`), then one `Finish`; raise an `LLMError` on failure."""
        ...

    async def stream_to(
        self,
        messages: Sequence[ChatMessage],
        options: Options,
        on_text: Callable[[str], None],
        on_tool_calls: Callable[[StreamingCalls], None] | None = None,
    ) -> Finish:
        """The same stream: each text delta handed to `on_text`, the `Finish` returned; each tool-call
        fragment (a call's id and name, a piece of its arguments) tells `on_tool_calls`, if given."""
        ...
