"""The multi-host failover end to end, small: 12 conversations across three network-namespace hosts
behind nginx with TLS (deploy/nginx/parley.conf), host 1 cut off and killed mid-stream. Its replies
end `interrupted`, resume through nginx on another host with exactly the saved text and continue;
the others complete untouched. The 300-conversation run is `python -m bench.multihost failover`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNAVAILABLE = 77  # bench.multihost's exit status when namespaces or nginx cannot be set up


@pytest.mark.integration
@pytest.mark.timeout(240)
def test_losing_a_host_mid_stream_loses_no_reply(tmp_path: Path) -> None:
    out = tmp_path / "failover.json"
    command = [sys.executable, "-m", "bench.multihost", "failover", "--conversations", "12", "--words", "60"]
    run = subprocess.run([*command, "--out", str(out)], cwd=ROOT, timeout=230, capture_output=True, text=True)
    if run.returncode == UNAVAILABLE:
        pytest.skip(run.stderr.strip().splitlines()[-1])
    assert out.exists(), run.stdout[-2000:] + run.stderr[-4000:]
    result = json.loads(out.read_text())
    lost = result["hosts"].get("parley-h1", 0)
    assert sorted(result["hosts"]) == ["parley-h1", "parley-h2", "parley-h3"]  # nginx spread them over all hosts
    assert sum(result["hosts"].values()) == 12 and lost > 0
    assert result["failures"] == []
    assert result["interrupted"] == result["resumed_exactly"] == result["continued"] == lost
    assert result["completed_exactly"] == result["untouched"] == 12 - lost
    assert result["reconnects"] >= lost and result["ok"]
    assert "Result: ok" in run.stdout, run.stdout[-2000:]
