"""A conversation's messages as a tree: which branch is shown, and where each message sits among
its siblings. Pure functions over anything with `id`, `parent_id` and `position`, so the reply
start (replies/), the reads (selectors.py) and the exports share one definition.

The branch shown is the path from a root to the conversation's active leaf. A leaf that is missing
(a conversation from before trees, or one whose leaf was deleted) means the newest message; a
node that has children extends to its newest descendant, which is what a user left there last.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeVar


class Node(Protocol):
    id: Any
    parent_id: Any
    position: int


N = TypeVar("N", bound=Node)


def children_by_parent(nodes: Iterable[N]) -> dict[Any, list[N]]:
    """Each parent id (None for roots) with its children in creation order."""
    children: dict[Any, list[N]] = {}
    for node in sorted(nodes, key=lambda node: node.position):
        children.setdefault(node.parent_id, []).append(node)
    return children


def newest_leaf(nodes: Sequence[N], under: Any = None) -> N | None:
    """The most recently created message at or below `under` (anywhere when None).

    A child is always created after its parent, so the newest descendant has no children: it is a leaf.
    """
    if under is None:
        return max(nodes, key=lambda node: node.position, default=None)
    children = children_by_parent(nodes)
    start = next((node for node in nodes if node.id == under), None)
    if start is None:
        return None
    newest, stack, seen = start, [start], {start.id}
    while stack:
        for child in children.get(stack.pop().id, ()):
            if child.id in seen:  # a corrupt cycle
                continue
            seen.add(child.id)
            stack.append(child)
            if child.position > newest.position:
                newest = child
    return newest


def active_path(nodes: Sequence[N], leaf_id: Any) -> list[N]:
    """The branch shown, root first: from a root down to `leaf_id` extended to its newest leaf."""
    by_id = {node.id: node for node in nodes}
    leaf = newest_leaf(nodes, leaf_id) if leaf_id in by_id else newest_leaf(nodes)
    return path_to(nodes, leaf.id) if leaf is not None else []


def path_to(nodes: Sequence[N], leaf_id: Any) -> list[N]:
    """Root first, down to `leaf_id` itself and no further (what a snapshot froze); empty when it is missing."""
    by_id = {node.id: node for node in nodes}
    leaf = by_id.get(leaf_id)
    path: list[N] = []
    seen: set[Any] = set()
    while leaf is not None and leaf.id not in seen:  # `seen` guards against a corrupt cycle
        seen.add(leaf.id)
        path.append(leaf)
        leaf = by_id.get(leaf.parent_id)
    path.reverse()
    return path


def sibling_ids(nodes: Iterable[N], parent_id: Any) -> tuple[str, ...]:
    """The ids of a parent's children (roots when None), oldest first, as protocol strings."""
    return tuple(str(node.id) for node in children_by_parent(nodes).get(parent_id, ()))


def annotate(messages: Iterable[Any], nodes: Sequence[Node]) -> None:
    """Set `sibling_ids` and `sibling_index` on messages read with their conversation's tree."""
    children = children_by_parent(nodes)
    for message in messages:
        ids = tuple(str(node.id) for node in children.get(message.parent_id, ()))
        message.sibling_ids = ids or (str(message.id),)
        message.sibling_index = message.sibling_ids.index(str(message.id))


def added_sibling(message: Any, existing: tuple[str, ...]) -> None:
    """Annotate a message just created under a parent whose children were `existing`."""
    message.sibling_ids = (*existing, str(message.id))
    message.sibling_index = len(existing)
