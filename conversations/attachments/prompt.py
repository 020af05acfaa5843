"""Attached files in a prompt: images as the wire format's image input for models that see, and
documents' text (extracted at upload) within a token budget, with a note where it was cut.

Runs in the reply's task (storage is read in a thread), so a stop interrupts it like any other step.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.storage import storages

from ..llm.base import ChatMessage, Image
from .services import AttachmentRef

CHARS_PER_TOKEN = 4  # a rough, provider-independent estimate; the budget is a guard, not a count


async def resolve(history: list[dict], *, vision: bool) -> list[ChatMessage]:
    """The history with each turn's attachments turned into prompt content (images only for a model
    flagged `vision` in the catalog); unchanged if no turn has any."""
    if not any("attachments" in turn for turn in history):
        return history
    return await sync_to_async(_resolve, thread_sensitive=False)(history, vision)


def _resolve(history: list[dict], vision: bool) -> list[ChatMessage]:
    budget = [settings.PARLEY_ATTACHMENT_TOKEN_BUDGET * CHARS_PER_TOKEN]  # newest turns are served first
    resolved: list[ChatMessage] = []
    for turn in reversed(history):
        refs = turn.get("attachments")
        if not refs:
            resolved.append(turn)
            continue
        resolved.append(_with_files(turn, refs, budget, vision))
    return resolved[::-1]


def _with_files(turn: dict, refs: list[AttachmentRef], budget: list[int], vision: bool) -> ChatMessage:
    blocks: list[str] = [turn["content"]] if turn["content"] else []
    images: list[Image] = []
    for ref in refs:
        if ref.kind == "image":
            if vision:
                images.append(Image(ref.content_type, _read(ref.storage_name)))
            else:
                blocks.append(f"[An image, {ref.name}, is attached, but this model cannot see images.]")
        else:
            blocks.append(_document(ref, budget))
    message: ChatMessage = {"role": turn["role"], "content": "\n\n".join(blocks)}
    if images:
        message["images"] = images
    return message


def _document(ref: AttachmentRef, budget: list[int]) -> str:
    """A document's text as far as the budget allows, and a note when any of it is missing."""
    text = ref.text
    kept = text[: max(budget[0], 0)]
    budget[0] -= len(kept)
    block = f'<document name="{ref.name}">\n{kept}\n</document>'
    if len(kept) < len(text):
        block += f"\n[Truncated: only the first {len(kept)} of {len(text)} characters of {ref.name} fit in the prompt.]"
    elif ref.text_truncated:
        block += f"\n[Truncated: {ref.name} has more text than Parley keeps from one file.]"
    return block


def _read(storage_name: str) -> bytes:
    with storages["attachments"].open(storage_name, "rb") as handle:
        return handle.read()
