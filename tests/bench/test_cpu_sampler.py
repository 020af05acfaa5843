"""bench/cpu_sampler: a child process's CPU time lands on the code that spent it, syscalls included
at their real share (py-spy's ptrace pauses put 96% of the samples of this loop on getpid)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SAMPLER = Path(__file__).resolve().parents[2] / "bench" / "cpu_sampler"
BUSY = """
import os, time
def compute():
    return sum(i * i for i in range(300))
def ask_pid():
    os.getpid()
end = time.process_time() + 1.0
while time.process_time() < end:
    compute()
    ask_pid()
"""


def test_samples_fall_where_the_cpu_time_went(tmp_path):
    out = tmp_path / "cpu"
    env = {**os.environ, "PYTHONPATH": str(SAMPLER), "PARLEY_CPU_SAMPLES": str(out)}
    subprocess.run([sys.executable, "-c", BUSY], env=env, check=True, timeout=30)
    [written] = tmp_path.glob("cpu-*.txt")
    counts: dict[str, int] = {}
    for line in written.read_text().splitlines():
        stack, count = line.rsplit(" ", 1)
        leaf = next((name for name in ("compute", "ask_pid") if f";{name} (" in stack), "other")
        counts[leaf] = counts.get(leaf, 0) + int(count)
    total = sum(counts.values())
    assert total > 100  # one sample per timer tick of CPU time (4 ms here)
    assert counts.get("compute", 0) > 0.8 * total
    assert counts.get("ask_pid", 0) < 0.15 * total
