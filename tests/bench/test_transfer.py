"""The import/export benchmark at a tiny size: its file reads as the tree it describes, and a run prints its numbers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.transfer import chatgpt_file
from conversations.imports import reading

ROOT = Path(__file__).resolve().parents[2]


def test_the_generated_export_has_its_turns_a_branch_and_a_hidden_node():
    (conversation,) = reading.read_file(chatgpt_file(1, 3), max_bytes=10**6)

    assert [m.key for m in conversation.messages] == ["q0", "a0", "q1", "a1", "q2", "a2", "alt"]
    assert {m.key: m.parent for m in conversation.messages}["alt"] == "q0"
    assert conversation.skipped == 1 and conversation.active_leaf == "a2"


@pytest.mark.integration
@pytest.mark.timeout(200)
def test_a_run_prints_each_measurement():
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    args = [sys.executable, "-m", "bench.transfer", "--database", "sqlite", "--conversations", "3", "--turns", "2"]

    output = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=True).stdout

    assert "file 0.0 MB, 15 messages kept" in output
    for label in ("read (parse and check)", "import (bulk, one txn)", "baseline: one INSERT each", "export all (zip)"):
        assert re.search(rf"{re.escape(label)}\s+\d+\.\d\d s", output), label
