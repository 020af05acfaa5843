"""The provider contract: messages in, an async stream of text deltas and one Finish out.

Providers import nothing from Django and never touch the database or the channel layer.
Text deltas are plain `str` objects, so the hot path allocates nothing per chunk beyond
the text itself; the stream ends with exactly one `Finish`. The same stream is also offered
as callbacks (`stream_to`), which the realtime path uses: no task wakes per delta.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol, TypedDict


class ChatMessage(TypedDict):
    role: str  # "system", "user" or "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class Options:
    """Per-request settings; None means "let the provider decide"."""

    model: str
    temperature: float | None = None
    max_tokens: int | None = None


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


Event = str | Finish


class Provider(Protocol):
    """What `registry.get_provider()` returns."""

    name: ClassVar[str]

    def stream(self, messages: Sequence[ChatMessage], options: Options) -> AsyncIterator[Event]:
        """Yield text deltas (`str`), then one `Finish`; raise an `LLMError` on failure."""
        ...

    async def stream_to(
        self, messages: Sequence[ChatMessage], options: Options, on_text: Callable[[str], None]
    ) -> Finish:
        """The same stream: each text delta handed to `on_text`, the `Finish` returned."""
        ...
