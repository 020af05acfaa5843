"""The search benchmark end to end at a small size: it fills, times both engines and the API,
and the engines agree on what they find."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
@pytest.mark.timeout(200)
@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_search_bench_times_both_engines_and_prints_percentiles(tmp_path: Path, db: str) -> None:
    out = tmp_path / "search.json"
    args = [sys.executable, "-m", "bench.search", "--messages", "400", "--rounds", "2", "--baseline-rounds", "1"]
    run = subprocess.run(
        [*args, "--db", db, "--json", str(out)], cwd=ROOT, check=True, timeout=180, capture_output=True, text=True
    )
    assert "overall GET /api/search/: p50" in run.stdout
    results = json.loads(out.read_text())
    engines = results["engines"]
    assert list(engines) == ["postgresql" if db == "postgres" else "fts5", "substring"]
    fulltext, substring = engines.values()
    for query in ("quasar", "saffron", "voyage", "zzyzzyva"):  # whole made-up words: no stemming differences
        assert fulltext["queries"][query]["hits"] == substring["queries"][query]["hits"]
    assert fulltext["queries"]["lighthouse"]["hits"] == 20  # the limit
    assert fulltext["queries"]["zzyzzyva"]["hits"] == 0
