"""The LLM layer runs without Django: the example in docs/llm.md, run with Django made unimportable."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BLOCKED = ("django", "channels", "daphne", "channels_redis")


def standalone_example() -> str:
    """The Python block that follows the `standalone example` marker in docs/llm.md."""
    doc = (ROOT / "docs" / "llm.md").read_text()
    match = re.search(r"<!-- standalone example -->\s*```python\n(.*?)```", doc, re.S)
    assert match, "docs/llm.md lost its standalone example"
    return match.group(1)


def test_the_documented_example_streams_a_reply_with_django_unimportable() -> None:
    blocker = "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in BLOCKED)
    result = subprocess.run(
        [sys.executable, "-c", blocker + standalone_example()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    text, _, finish = result.stdout.rstrip("\n").rpartition("\n")
    assert text.strip() and finish.startswith("[stop]")
