"""The prompt a reply answers, from the turns on its branch."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from ..attachments.services import refs_by_message
from ..llm.base import ChatMessage
from ..models import Conversation, Message
from ..parts import parts_view, replayed

if TYPE_CHECKING:
    from .start import Turn


def history(conversation: Conversation, turns: list[Turn | Message]) -> list[dict]:
    """The prompt for the model: system prompt, then every earlier turn that has text or files
    (their contents are read later, in the reply's task: attachments/prompt.py); a reply that
    called tools comes back as its calls and their results, so later questions can refer to them."""
    history: list[dict] = []
    if conversation.system_prompt:
        history.append({"role": "system", "content": conversation.system_prompt})
    tool_turns = _tool_turns(turns) if conversation.has_tool_calls else {}
    if not conversation.has_attachments and not tool_turns:
        history += [{"role": turn.role, "content": turn.content} for turn in turns if turn.content]
        return history
    files = refs_by_message([turn.id for turn in turns if turn.role == Message.Role.USER])
    for turn in turns:
        if turn.id in tool_turns:
            history += tool_turns[turn.id]
        elif turn.content or turn.id in files:
            history.append({"role": turn.role, "content": turn.content})
            if turn.id in files:
                history[-1]["attachments"] = files[turn.id]
    return history


def _tool_turns(turns: list[Turn | Message]) -> dict[uuid.UUID, list[ChatMessage]]:
    """The replies among `turns` that called tools, each as the turns `parts.replayed` makes of it."""
    replies = [turn.id for turn in turns if turn.role == Message.Role.ASSISTANT]
    stored = Message.objects.filter(id__in=replies).exclude(parts=[]).values_list("id", "parts", "content")
    return {
        reply_id: replayed(parts_view(parts, content))
        for reply_id, parts, content in stored
        if any(part.get("type") == "tool_call" for part in parts)
    }
