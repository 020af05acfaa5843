"""ChatGPT's `conversations.json` read into Parley's tree, branches included (docs/export.md).

Each conversation's `mapping` holds nodes `{id, message, parent, children}`; `parent` links are
the tree (`children` only repeats them) and `current_node` is the leaf shown. Parley keeps the
user's and the assistant's visible turns: nodes without a message, system and tool messages,
hidden ones, an assistant's calls to tools and its hidden reasoning are left out, and their
children hang from the nearest kept ancestor. An assistant turn ChatGPT split around a tool call
becomes one reply again (a kept message whose only kept child has the same role absorbs it).
"""

from __future__ import annotations

import heapq
from datetime import datetime
from typing import Any

from ..exports import fenced
from ..parts import SEPARATOR
from .shapes import ImportedConversation, ImportedMessage, ImportRejected, flag, text, timestamp, title

KEPT_ROLES = ("user", "assistant")
HIDDEN_CONTENT = {"thoughts", "reasoning_recap", "user_editable_context", "model_editable_context", "system_error"}
MODEL_MAX = 200


def is_chatgpt(document: Any) -> bool:
    return isinstance(document, dict) and "mapping" in document


def read_conversation(document: dict[str, Any], where: str) -> ImportedConversation:
    where = f"{where} ({str(document.get('title'))[:60]!r})"
    mapping = document.get("mapping")
    if not isinstance(mapping, dict):
        raise ImportRejected(f"{where}: mapping must be an object of nodes.")
    parents = {key: node_parent(key, node, mapping, where) for key, node in mapping.items()}
    check_acyclic(parents, where)
    kept = {key: turn for key, node in mapping.items() if (turn := visible_turn(key, node, where)) is not None}
    nearest: dict[str | None, str | None] = {None: None}
    kept_parent = {key: nearest_kept(parents[key], parents, kept, nearest) for key in kept}
    messages, merged_into = merged_turns(kept, kept_parent)
    current = document.get("current_node")
    in_mapping = isinstance(current, str) and current in mapping
    leaf = nearest_kept(current, parents, kept, nearest) if in_mapping else None
    return ImportedConversation(
        title=title(document.get("title"), where),
        messages=messages,
        active_leaf=merged_into.get(leaf, leaf),
        updated_at=timestamp(document.get("update_time"), f"{where}: update_time"),
        archived=flag(document.get("is_archived"), f"{where}: is_archived"),
        skipped=sum(1 for node in mapping.values() if isinstance(node, dict) and node.get("message")) - len(kept),
    )


def node_parent(key: Any, node: Any, mapping: dict[str, Any], where: str) -> str | None:
    if not isinstance(node, dict):
        raise ImportRejected(f"{where}: node {key} must be an object.")
    parent = node.get("parent")
    if parent is not None and (not isinstance(parent, str) or parent not in mapping):
        raise ImportRejected(f"{where}: node {key} names parent {parent}, which is not in the mapping.")
    return parent


def check_acyclic(parents: dict[str, str | None], where: str) -> None:
    """Every chain of parents reaches a root; each node is walked once."""
    done: set[str] = set()
    for start in parents:
        path: list[str] = []
        on_path: set[str] = set()
        node: str | None = start
        while node is not None and node not in done:
            if node in on_path:
                raise ImportRejected(f"{where}: node {node} is its own ancestor (a cycle in the mapping).")
            path.append(node)
            on_path.add(node)
            node = parents[node]
        done.update(path)


def nearest_kept(
    key: str | None, parents: dict[str, str | None], kept: dict[str, Any], nearest: dict[str | None, str | None]
) -> str | None:
    """The node itself if kept, else its nearest kept ancestor; `nearest` remembers every answer, so
    many kept children under a long run of left-out nodes walk that run once, not once each."""
    walked = []
    while key not in nearest and key not in kept:
        walked.append(key)
        key = parents[key]
    found = key if key in kept else nearest[key]
    for node in walked:
        nearest[node] = found
    return found


def visible_turn(key: str, node: dict[str, Any], where: str) -> ImportedMessage | None:
    """The node as a Parley message, or None when Parley leaves it out (see the module's docstring)."""
    message = node.get("message")
    if message is None:
        return None
    here = f"{where}, node {key}"
    if not isinstance(message, dict) or not isinstance(message.get("author"), dict):
        raise ImportRejected(f"{here}: message must be an object with an author.")
    content = message.get("content")
    if not isinstance(content, dict) or not isinstance(content.get("content_type"), str):
        raise ImportRejected(f"{here}: content must be an object with a content_type.")
    metadata = message.get("metadata") if isinstance(message.get("metadata"), dict) else {}
    role = message["author"].get("role")
    if (
        role not in KEPT_ROLES
        or metadata.get("is_visually_hidden_from_conversation")
        or message.get("recipient", "all") != "all"
        or content["content_type"] in HIDDEN_CONTENT
    ):
        return None
    body = content_text(content, here)
    if not body.strip():
        return None
    model = metadata.get("model_slug") if role == "assistant" else None
    return ImportedMessage(
        key=key,
        parent=None,
        role=role,
        content=body,
        created_at=timestamp(message.get("create_time"), f"{here}: create_time"),
        model=text(model, f"{here}: model_slug", limit=MODEL_MAX) if isinstance(model, str) else "",
    )


def content_text(content: dict[str, Any], where: str) -> str:
    """A message's words: text parts as they are, code fenced, quotes quoted, and a note in place
    of what the export does not hold (images, audio, files)."""
    kind = content["content_type"]
    if kind in ("text", "multimodal_text"):
        parts = content.get("parts")
        if not isinstance(parts, list):
            raise ImportRejected(f"{where}: parts must be a list.")
        return SEPARATOR.join(piece for part in parts if (piece := part_text(part, where)))
    if kind == "code":
        return fenced(text(content.get("text", ""), f"{where}: text"))
    if kind == "tether_quote":
        quoted = text(content.get("text", ""), f"{where}: text")
        source = text(content.get("title") or content.get("url") or "", f"{where}: title")
        return "\n".join(f"> {line}" for line in quoted.splitlines()) + (f"\n\n— {source}" if source else "")
    if isinstance(content.get("text"), str):
        return text(content["text"], f"{where}: text")
    return f"[{text(kind, f'{where}: content_type')} content is not imported]"


def part_text(part: Any, where: str) -> str:
    if isinstance(part, str):
        return text(part, f"{where}: a part")
    if not isinstance(part, dict):
        raise ImportRejected(f"{where}: each part must be a string or an object.")
    kind = part.get("content_type")
    if kind == "audio_transcription" and isinstance(part.get("text"), str):
        return text(part["text"], f"{where}: a transcription")
    if kind == "image_asset_pointer":
        return "[An image was attached here; images are not imported.]"
    return f"[{text(str(kind), f'{where}: a part type')} is not imported.]"


def merged_turns(
    kept: dict[str, ImportedMessage], kept_parent: dict[str, str | None]
) -> tuple[list[ImportedMessage], dict[str, str]]:
    """The kept messages parents first, oldest first where the tree allows; a message whose only
    kept child has its role takes in that child's text. Returns them and what was merged into what."""
    children: dict[str | None, list[str]] = {}
    for key in kept:
        children.setdefault(kept_parent[key], []).append(key)
    merged_into: dict[str, str] = {}
    ordered: list[ImportedMessage] = []
    for key in creation_order(kept, children):
        parent = kept_parent[key]
        target = merged_into.get(parent, parent) if parent is not None else None
        if parent is not None and len(children[parent]) == 1 and kept[target].role == kept[key].role:
            kept[target].content += SEPARATOR + kept[key].content
            kept[target].model = kept[target].model or kept[key].model
            merged_into[key] = target
            continue
        kept[key].parent = target
        ordered.append(kept[key])
    return ordered, merged_into


def creation_order(kept: dict[str, ImportedMessage], children: dict[str | None, list[str]]) -> list[str]:
    """Parents before children; among the messages ready, the oldest first (a missing time counts as
    its parent's, the file's order breaks ties)."""
    index = {key: number for number, key in enumerate(kept)}
    ready: list[tuple[float, int, str]] = []

    def push(key: str, inherited: float) -> None:
        created = kept[key].created_at
        when = created.timestamp() if isinstance(created, datetime) else inherited
        heapq.heappush(ready, (when, index[key], key))

    for root in children.get(None, []):
        push(root, float("-inf"))
    order: list[str] = []
    while ready:
        when, _, key = heapq.heappop(ready)
        order.append(key)
        for child in children.get(key, []):
            push(child, when)
    return order
