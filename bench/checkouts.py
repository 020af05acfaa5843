"""The Parley source trees under test: the working tree, and with --baseline REV that commit.

A baseline is measured in the same run as the working tree, so that a shared machine's changing
speed hits both alike. Its tree is a `git archive` of REV in the run's workdir (nothing is
registered in the repository), run with this venv's python and its own database.
"""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from .procs import PYTHON, ROOT

CURRENT = "parley"  # the working tree's implementation name; a baseline is "parley@<commit>"

# What the server imports, and where it finds it: the checkout's own packages, not the working tree's.
IMPORT_CHECK = "import chatsite.server, chatsite.asgi, conversations; print(chatsite.__file__, conversations.__file__)"
MISSING = re.compile(r"ModuleNotFoundError: No module named '([^']+)'")


class CheckoutError(RuntimeError):
    """A baseline commit that cannot be extracted or cannot run on this venv."""


@dataclass
class Checkout:
    """One Parley tree: its implementation name, where it lives, and its throwaway database."""

    name: str
    root: Path
    commit: str = ""  # full hash; empty for the working tree
    database_url: str = ""

    @property
    def suffix(self) -> str:
        """Tells this tree's database apart from the working tree's."""
        return f"_{self.commit[:12]}" if self.commit else ""


def is_parley(impl: str) -> bool:
    return impl == CURRENT or impl.startswith(CURRENT + "@")


def working_tree() -> Checkout:
    return Checkout(CURRENT, ROOT)


def extract(rev: str, workdir: Path) -> Checkout:
    """Write the tree of `rev` into workdir/parley@<short hash>."""
    commit = git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", what=f"--baseline {rev}: no such commit")
    name = f"{CURRENT}@{git('rev-parse', '--short', commit)}"
    root = workdir / name
    root.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=ROOT, capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(root, filter="data")
    return Checkout(name, root, commit)


def verify(checkout: Checkout, env: dict[str, str]) -> None:
    """Fail clearly when the checkout needs a module this venv lacks or imports another tree's code."""
    done = subprocess.run(
        [PYTHON, "-c", IMPORT_CHECK], cwd=checkout.root, env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode:
        missing = MISSING.search(done.stderr)
        if missing:
            raise CheckoutError(
                f"{checkout.name} needs the module {missing[1]!r}, which {PYTHON} does not have: "
                f"install that commit's dependencies into this venv"
            )
        raise CheckoutError(f"{checkout.name} does not import: {done.stderr.strip()[-2000:]}")
    for path in done.stdout.split():
        if not Path(path).resolve().is_relative_to(checkout.root.resolve()):
            raise CheckoutError(f"{checkout.name} imported {path}, outside its tree {checkout.root}")


def git(*args: str, what: str = "git") -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise CheckoutError(f"{what} ({done.stderr.strip() or 'git exited with ' + str(done.returncode)})")
    return done.stdout.strip()
