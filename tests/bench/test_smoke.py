"""The benchmark harness end to end at N=2: the floor baseline and Parley deliver every token, and
a baseline commit runs beside the working tree and lands in the budget table."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
@pytest.mark.timeout(200)
def test_harness_delivers_every_token_and_writes_both_reports(tmp_path: Path, redis_url: str) -> None:
    args = [
        sys.executable,
        "-m",
        "bench.run",
        "--impls",
        "floor,parley",
        "--n",
        "2",
        "--tokens",
        "20",
        "--tps",
        "100",
        "--ttft",
        "0.05",
        "--ramp",
        "0.1",
        "--slack",
        "10",
        "--idle-n",
        "0",
        "--thread-n",
        "",
        "--scale-n",
        "0",
        "--db",
        "sqlite",
        "--out-dir",
        str(tmp_path),
        "--redis-url",
        redis_url,
    ]
    subprocess.run(args, cwd=ROOT, check=True, timeout=180, capture_output=True)

    results = json.loads((tmp_path / "latest.json").read_text())
    assert (tmp_path / "latest.md").read_text().startswith("# Parley benchmark")
    for impl in ("floor", "parley"):
        (row,) = results["sweep"][impl]
        assert row["ok"], row
        assert row["tokens_delivered"] == row["tokens_expected"] == 40
        assert row["lost"] == row["duplicates"] == row["reordered"] == 0
        assert 0 <= row["first_token_p50_ms"] <= row["first_token_max_ms"] < 10_000  # one per reply, ttft excluded
    assert results["sweep"]["parley"][0]["starts_per_s"] > 0  # every send answered with message.created


@pytest.mark.integration
@pytest.mark.timeout(200)
def test_one_owner_workload_runs_every_conversation_for_one_user_past_the_default_cap(
    tmp_path: Path, redis_url: str
) -> None:
    args = [
        *("--impls", "parley", "--owners", "one", "--n", "8", "--tokens", "10", "--tps", "100", "--ttft", "0.05"),
        *("--ramp", "0.1", "--slack", "10", "--idle-n", "0", "--thread-n", "", "--scale-n", "0", "--db", "sqlite"),
        *("--out-dir", str(tmp_path), "--redis-url", redis_url),
    ]
    subprocess.run([sys.executable, "-m", "bench.run", *args], cwd=ROOT, check=True, timeout=180, capture_output=True)

    (row,) = json.loads((tmp_path / "latest.json").read_text())["sweep"]["parley"]
    assert row["ok"], row  # 8 replies at once for one user: the default cap of 5 would refuse three
    assert row["tokens_delivered"] == 80 and row["starts_per_s"] > 0
    assert "one user owning every conversation" in (tmp_path / "latest.md").read_text()


@pytest.mark.integration
@pytest.mark.timeout(200)
def test_a_baseline_commit_runs_beside_the_working_tree_and_fills_the_budget_table(
    tmp_path: Path, redis_url: str
) -> None:
    args = [
        *("--baseline", "HEAD", "--impls", "parley", "--n", "2", "--budget-n", "2", "--repeat", "2"),
        *("--tokens", "5", "--tps", "100", "--ttft", "0.05", "--ramp", "0.1", "--slack", "10"),
        *("--idle-n", "20", "--thread-n", "", "--scale-n", "0", "--db", "sqlite", "--out-dir", str(tmp_path)),
        *("--redis-url", redis_url),
    ]
    subprocess.run([sys.executable, "-m", "bench.run", *args], cwd=ROOT, check=True, timeout=180, capture_output=True)

    results = json.loads((tmp_path / "latest.json").read_text())
    baseline = results["meta"]["baseline"]["impl"]
    assert re.fullmatch(r"parley@[0-9a-f]{7,}", baseline)
    assert list(results["sweep"]) == ["parley", baseline]
    for impl in ("parley", baseline):
        assert [r["n"] for r in results["sweep"][impl]] == [2, 2]
        for row in results["sweep"][impl]:
            assert row["ok"], row
            assert row["tokens_delivered"] == row["tokens_expected"] == 10
    assert [r["impl"] for r in results["idle"]] == ["parley", baseline]
    assert all(r["ok"] and r["connected"] == 20 for r in results["idle"])

    budget = results["budget"]
    assert (budget["n"], budget["current"], budget["baseline"]) == (2, "parley", baseline)
    delivered = budget["rows"][0]
    assert (delivered["current"], delivered["baseline"], delivered["verdict"]) == ("20/20", "20/20", "met")
    assert all(r["ratio"] is not None for r in budget["rows"][2:]), budget["rows"]
    report = (tmp_path / "latest.md").read_text()
    assert f"| budget | parley | {baseline} | ratio | verdict |" in report


@pytest.mark.integration
@pytest.mark.timeout(200)
def test_upstream_benchmark_reads_every_token_through_each_transport() -> None:
    args = [sys.executable, "-m", "bench.upstream", "--streams", "3", "--tokens", "5", "--tps", "200", "--rounds", "1"]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=180)

    assert result.returncode == 0, result.stdout + result.stderr
    for transport in ("default", "fast", "httpx, one pool"):
        assert re.search(rf"round 1 {re.escape(transport)} .* \(15 tokens,", result.stderr), result.stderr
