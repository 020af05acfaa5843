"""A baseline commit's tree: extracted without touching the repository, and refused clearly when it
cannot run on this venv or would import the working tree's code instead of its own."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from bench.checkouts import Checkout, CheckoutError, extract, verify


def fake_tree(root: Path, server: str = "", conversations: bool = True) -> Checkout:
    for package in ("chatsite", "conversations") if conversations else ("chatsite",):
        (root / package).mkdir()
        (root / package / "__init__.py").write_text("")
    (root / "chatsite" / "server.py").write_text(server)
    (root / "chatsite" / "asgi.py").write_text("")
    return Checkout("parley@0000000", root, "0" * 40)


def env(root: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(root)}


def test_head_is_extracted_as_a_plain_tree_named_by_its_hash(tmp_path: Path) -> None:
    tree = extract("HEAD", tmp_path)

    assert re.fullmatch(r"[0-9a-f]{40}", tree.commit)
    assert tree.name.startswith("parley@") and tree.commit.startswith(tree.name.removeprefix("parley@"))
    assert (tree.root / "manage.py").is_file() and (tree.root / "chatsite" / "server.py").is_file()
    assert not (tree.root / ".git").exists()


def test_an_unknown_revision_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(CheckoutError, match="--baseline no-such-rev-xyz: no such commit"):
        extract("no-such-rev-xyz", tmp_path)


def test_a_module_the_venv_lacks_is_named(tmp_path: Path) -> None:
    tree = fake_tree(tmp_path, server="import parley_bench_absent_module\n")

    with pytest.raises(CheckoutError, match="needs the module 'parley_bench_absent_module'"):
        verify(tree, env(tmp_path))


def test_a_package_found_outside_the_tree_is_refused(tmp_path: Path) -> None:
    # Without its own `conversations`, the tree would run the working tree's: the editable install supplies it.
    tree = fake_tree(tmp_path, conversations=False)

    with pytest.raises(CheckoutError, match="outside its tree"):
        verify(tree, env(tmp_path))


def test_a_tree_with_its_own_packages_passes(tmp_path: Path) -> None:
    verify(fake_tree(tmp_path), env(tmp_path))
