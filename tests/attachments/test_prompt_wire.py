"""A document's extracted text in each wire format's request, as the prompt builder makes it and
each format writes it: one user turn whose text holds the message, then the `<document>` block
(with its truncation note), next to the turn's images where the format has them."""

from __future__ import annotations

import base64

from conversations.attachments.prompt import resolve
from conversations.attachments.services import AttachmentRef
from conversations.llm.base import Image, Options
from conversations.llm.formats.anthropic_messages import AnthropicMessages
from conversations.llm.formats.chat_completions import ChatCompletions
from conversations.llm.formats.ollama_ndjson import OllamaNDJSON

PLAN = AttachmentRef("file", "application/pdf", "plan.pdf", "uploads/1/x", text="Launch at dawn.", text_truncated=True)
TEXT = (
    'Summarise this.\n\n<document name="plan.pdf">\nLaunch at dawn.\n</document>\n'
    "[Truncated: plan.pdf has more text than Parley keeps from one file.]"
)
PIXEL = Image("image/png", b"\x89PNG-bytes")
B64 = base64.b64encode(PIXEL.data).decode()


async def last_turn(wire) -> dict:
    (turn,) = await resolve([{"role": "user", "content": "Summarise this.", "attachments": [PLAN]}], vision=True)
    turn = {**turn, "images": [PIXEL]}  # an image beside it, as a message with both sends
    return wire.build_request("http://upstream", "", [turn], Options("m")).body["messages"][-1]


async def test_chat_completions_puts_the_document_in_the_text_part():
    assert await last_turn(ChatCompletions()) == {
        "role": "user",
        "content": [
            {"type": "text", "text": TEXT},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{B64}"}},
        ],
    }


async def test_anthropic_puts_the_document_in_the_text_block_after_the_images():
    assert await last_turn(AnthropicMessages()) == {
        "role": "user",
        "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": B64}},
            {"type": "text", "text": TEXT},
        ],
    }


async def test_ollama_puts_the_document_in_the_content():
    assert await last_turn(OllamaNDJSON()) == {"role": "user", "content": TEXT, "images": [B64]}
