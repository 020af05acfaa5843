"""The tools benchmark end to end at a small size: every stamped token of both phases arrives, the
sync ORM tool really runs beside the streams, and the numbers are printed and written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
@pytest.mark.timeout(200)
@pytest.mark.parametrize(("db", "runner"), [("sqlite", "threads"), ("postgres", "threads"), ("postgres", "processes")])
def test_tools_bench_streams_beside_the_orm_tool_and_prints_both_phases(tmp_path: Path, db: str, runner: str) -> None:
    out = tmp_path / "tools.json"
    args = [sys.executable, "-m", "bench.tools", "--streams", "4", "--tokens", "30", "--tps", "20"]
    args += ["--conversations", "40", "--db", db, "--tool-runner", runner, "--json", str(out)]
    run = subprocess.run(args, cwd=ROOT, check=True, timeout=180, capture_output=True, text=True)
    assert "p99 added by the tool:" in run.stdout and "load average" in run.stdout
    results = json.loads(out.read_text())
    assert results["expected_tokens"] == 120
    assert results["baseline"]["tokens"] == results["with_tool"]["tokens"] == 120  # none lost beside the tool
    assert results["tool"]["calls"] >= 1 and results["tool"]["call_p50_ms"] > 0
    assert results["added_p99_ms"] == round(results["with_tool"]["p99_ms"] - results["baseline"]["p99_ms"], 2)
