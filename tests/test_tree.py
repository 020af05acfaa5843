"""The tree rules on plain values: which branch is shown, and where each message sits among its siblings."""

from __future__ import annotations

from typing import NamedTuple

from conversations import tree


class N(NamedTuple):
    id: str
    parent_id: str | None
    position: int


#   a ─ b ─ c          (a chain)
#    └─ d ─ e          (b edited: d is b's sibling; e answers d)
#        └─ f          (e regenerated: f is e's sibling)
NODES = [N("a", None, 0), N("b", "a", 1), N("c", "b", 2), N("d", "a", 3), N("e", "d", 4), N("f", "d", 5)]


def ids(nodes) -> list[str]:
    return [node.id for node in nodes]


def test_the_path_runs_from_the_root_to_the_leaf():
    assert ids(tree.active_path(NODES, "c")) == ["a", "b", "c"]
    assert ids(tree.active_path(NODES, "e")) == ["a", "d", "e"]


def test_a_node_with_children_extends_to_its_newest_leaf():
    assert ids(tree.active_path(NODES, "a")) == ["a", "d", "f"]
    assert ids(tree.active_path(NODES, "b")) == ["a", "b", "c"]


def test_a_missing_leaf_means_the_newest_message():
    assert ids(tree.active_path(NODES, None)) == ["a", "d", "f"]
    assert ids(tree.active_path(NODES, "gone")) == ["a", "d", "f"]
    assert tree.active_path([], None) == []


def test_siblings_are_ordered_by_creation():
    assert tree.sibling_ids(NODES, "a") == ("b", "d")
    assert tree.sibling_ids(NODES, "d") == ("e", "f")
    assert tree.sibling_ids(NODES, None) == ("a",)


def test_annotate_sets_index_and_ids():
    class M:
        def __init__(self, node):
            self.id, self.parent_id = node.id, node.parent_id

    path = [M(node) for node in tree.active_path(NODES, "f")]
    tree.annotate(path, NODES)
    assert [(m.sibling_index, m.sibling_ids) for m in path] == [(0, ("a",)), (1, ("b", "d")), (1, ("e", "f"))]


def test_a_corrupt_cycle_cannot_hang_the_path():
    cycle = [N("x", "y", 0), N("y", "x", 1)]
    assert len(tree.active_path(cycle, "y")) == 2
