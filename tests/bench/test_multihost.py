"""The multi-host failover end to end, small: 12 conversations across three network-namespace hosts
behind nginx with TLS (deploy/nginx/parley.conf), host 1 cut off and killed mid-stream. Its replies
end `interrupted`, resume through nginx on another host with exactly the saved text and continue;
the others complete untouched. The 300-conversation run is `python -m bench.multihost failover`."""

from __future__ import annotations

import fcntl
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
    assert set(result["continued_on"]) <= {"parley-h2", "parley-h3"} and result["continued_on"]  # never host 1
    assert result["completed_exactly"] == result["untouched"] == 12 - lost
    assert result["reconnects"] >= lost and result["ok"]
    assert "Result: ok" in run.stdout, run.stdout[-2000:]


# --- the scale-out measurement's arithmetic (bench/multihost/scale.py), without servers ---------------


def row(n: int, p99: float | None, ok: bool = True) -> dict:
    return {"n": n, "latency_p99_ms": p99, "ok": ok}


def test_capacity_is_the_largest_step_within_the_bound_and_without_failures():
    from bench.multihost.scale import ScalePlan, capacity

    plan = ScalePlan(p99_ms=250.0)
    assert capacity([row(20, 90), row(40, 240), row(60, 251)], plan) == 40
    assert capacity([row(20, 90), row(40, 100, ok=False)], plan) == 20  # a lost token is never capacity
    assert capacity([row(20, None)], plan) == 0


def test_a_balanced_target_reaches_nginx_by_address_with_the_page_origin_and_its_own_source():
    from bench.client import Target

    target = Target("wss://chat.example.com/ws/x/", address=("10.77.0.2", 443), tls="ctx", source="10.77.0.101")
    assert target.connection_options() == {
        "ssl": "ctx", "host": "10.77.0.2", "port": 443, "local_addr": ("10.77.0.101", 0),
    }  # fmt: skip
    assert Target("ws://127.0.0.1:8001/ws/x/").connection_options() == {}  # the one-host bench, as before


@pytest.mark.integration
def test_a_machine_that_cannot_build_the_topology_gets_a_reason_and_status_77(tmp_path: Path) -> None:
    """While another run holds the topology's lock (held here), a run says why and exits 77: the smoke skips."""
    from bench.multihost.network import LOCK

    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # waits out a real run in progress
        command = [sys.executable, "-m", "bench.multihost", "failover", "--conversations", "2"]
        run = subprocess.run([*command, "--out", str(tmp_path / "out.json")], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == UNAVAILABLE, run.stderr[-2000:]
    assert "multi-host topology unavailable: " in run.stderr and not (tmp_path / "out.json").exists()
