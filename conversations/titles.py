"""A new chat's title, written by a model after its first reply.

The first 60 characters of the first message name a chat at once (replies/start.py); once the first reply
is complete, the task model (PARLEY_TASK_MODEL, else the reply's own model) is asked for a short
title. Reasoning blocks (`<think>…</think>`, as reasoning models emit) are stripped, and quotes,
markdown and a "Title:" prefix removed. On any failure, or when the user renamed the chat meanwhile,
the first-message title stands.
"""

from __future__ import annotations

import asyncio
import logging
import re

from .llm.base import ChatMessage, Options, Provider
from .llm.errors import LLMError

logger = logging.getLogger(__name__)

TITLE_MAX = 60
EXCERPT = 1500  # characters of the exchange the task model sees
INSTRUCTION = (
    "Write a short title, at most six words, for the conversation below. "
    "Answer with the title only: no quotes, no punctuation at the end."
)
_THINK = re.compile(r"<(think|thinking|reasoning)>.*?(</\1>|$)", re.DOTALL | re.IGNORECASE)
QUOTES = "\"'`*_ \u201c\u201d\u2018\u2019"  # straight and typographic quotes, markdown emphasis, spaces
_PREFIX = re.compile(r"^\s*(title\s*:\s*)", re.IGNORECASE)


def clean_title(text: str) -> str:
    """The title in a model's answer: reasoning, markdown, quotes and a label removed; "" if none is left."""
    text = _THINK.sub("", text)
    line = next((line for line in text.splitlines() if line.strip()), "")
    line = _PREFIX.sub("", line.strip().lstrip("#*-> ").strip())
    line = line.strip(QUOTES).rstrip(".!:;,")
    title = " ".join(line.split())
    return title[: TITLE_MAX - 1].rstrip() + "…" if len(title) > TITLE_MAX else title


def automatic(title: str, first_message: str) -> bool:
    """Whether a chat still has the title it got without anyone choosing it (so a model may replace it)."""
    first_line = next((line for line in first_message.splitlines() if line.strip()), "")
    candidates = ("New chat", " ".join(first_message.split())[:TITLE_MAX], first_line.strip()[:TITLE_MAX])
    return _normal(title) in {_normal(candidate) for candidate in candidates}


def _normal(text: str) -> str:
    return " ".join(text.split())


def title_prompt(first_message: str, reply: str) -> list[ChatMessage]:
    exchange = f"User: {first_message[:EXCERPT]}\n\nAssistant: {reply[:EXCERPT]}"
    return [{"role": "system", "content": INSTRUCTION}, {"role": "user", "content": exchange}]


async def ask_title(provider: Provider, model: str, first_message: str, reply: str, timeout: float) -> str:
    """The task model's title for the exchange, cleaned; "" when it fails or says nothing usable."""
    parts: list[str] = []
    try:
        async with asyncio.timeout(timeout):
            await provider.stream_to(
                title_prompt(first_message, reply), Options(model=model, temperature=0.2, max_tokens=60), parts.append
            )
    except (LLMError, TimeoutError) as error:
        logger.info("The task model %s wrote no title: %s", model, error)
        return ""
    return clean_title("".join(parts))
