"""The soak end to end, for seconds: traffic on two processes through a PostgreSQL blink and a
killed process, with no character lost and no Redis subscription left behind, its users moving on
to new conversations as they go."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_a_short_soak_loses_nothing_and_leaks_no_subscription(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    command = [sys.executable, "-m", "bench.soak", "--minutes", "0.25", "--fault-every", "5", "--out", str(out)]
    command += ["--users", "1", "--max-words", "60", "--stale-after", "3"]  # seconds, not minutes
    command += ["--turns", "2"]
    run = subprocess.run(command, cwd=ROOT, timeout=280, capture_output=True, text=True)
    assert out.exists(), run.stdout[-2000:] + run.stderr[-4000:]
    result = json.loads(out.read_text())
    assert [fault["fault"] for fault in result["faults"]] == ["postgres_blink", "process_kill"]
    assert result["replies"] > 0 and result["characters_shown"] > 0
    assert result["statuses"].get("complete", 0) > 0
    assert result["lost_characters"] == 0 and result["complete_but_wrong_text"] == 0
    assert result["leaked_subscriptions"] == 0, result["channels_left_subscribed"]
    assert result["conversations_used"] > result["conversations"]  # three at once, each left after two messages
    assert "Lost characters: 0" in run.stdout  # the report a person reads says the same


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_a_traced_soak_reports_what_grew_in_the_steady_processs_heap(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    command = [sys.executable, "-m", "bench.soak", "--minutes", "0.25", "--fault-every", "60", "--out", str(out)]
    command += ["--users", "1", "--max-words", "30", "--trace-memory"]  # no fault: the run is shorter than one turn
    run = subprocess.run(command, cwd=ROOT, timeout=280, capture_output=True, text=True)
    assert out.exists(), run.stdout[-2000:] + run.stderr[-4000:]
    growth = json.loads(out.read_text())["heap_growth"]
    assert growth["traced_after_bytes"] > 0 and growth["sites"] and growth["types"]
    assert all(site["traceback"] for site in growth["sites"])
    assert "Traced heap after the warm-up" in run.stdout
