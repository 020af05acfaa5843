"""Issue 12's performance budget: the working tree against a baseline commit measured in the same run.

Latency and delivery are absolute limits on the working tree; CPU and idle memory are ratios to
the baseline, because this machine's speed changes too much between runs for absolute numbers.
With --repeat the budget's step runs several times per tree: each figure is then the median,
and a ratio is the median of the ratios of runs made one after the other.
"""

from __future__ import annotations

from statistics import median
from typing import Any

from .checkouts import CURRENT

P99_MS = 100.0  # p99 added latency at the budget's N
CPU_RATIO = 1.20  # CPU per 1k tokens may rise at most 20%
IDLE_RATIO = 1.15  # idle RSS per socket may rise at most 15%
WORKLOAD = {"tokens": 100, "tps": 50.0, "database": "postgres"}  # what the issue measures at


def evaluate(results: dict, baseline: str, n: int) -> dict[str, Any]:
    """The budget rows for the working tree (`parley`) against `baseline` at N=n."""
    sweep, idle = results.get("sweep", {}), results.get("idle", [])
    new, old = (
        [r for r in sweep.get(impl, []) if r["n"] == n and r.get("processes", 1) == 1] for impl in (CURRENT, baseline)
    )
    idle_new, idle_old = ([r for r in idle if r["impl"] == impl] for impl in (CURRENT, baseline))
    idle_n = next((r["n"] for r in idle_new + idle_old), "-")
    rows = [
        delivered(new, old),
        row(f"p99 added latency ≤ {P99_MS:g} ms", "ms", new, old, "latency_p99_ms", limit=P99_MS),
        row(f"CPU s per 1k tokens ≤ {CPU_RATIO:.2f}x baseline", "s", new, old, "cpu_per_1k_tokens", ratio=CPU_RATIO),
        row(
            f"idle RSS KB per socket at {idle_n} ≤ {IDLE_RATIO:.2f}x baseline",
            "KB",
            idle_new,
            idle_old,
            "rss_per_conn_kb",
            ratio=IDLE_RATIO,
        ),
        row("first token p50 ms (no budget)", "ms", new, old, "first_token_p50_ms"),
        row("first token p99 ms (no budget)", "ms", new, old, "first_token_p99_ms"),
    ]
    flags = {
        impl: [", ".join(r["bottlenecks"]) for r in rs if r["bottlenecks"]]
        for impl, rs in ((CURRENT, new), (baseline, old))
    }
    return {
        "n": n,
        "current": CURRENT,
        "baseline": baseline,
        "runs": {CURRENT: len(new), baseline: len(old)},
        "rows": rows,
        "flags": {impl: f for impl, f in flags.items() if f},
        "workload_differs": differs(results.get("meta", {})),
    }


def delivered(new: list[dict], old: list[dict]) -> dict[str, Any]:
    """Every token of every run, with no loss, duplicate, reorder, error or timeout (the step's `ok`)."""

    def text(rows: list[dict]) -> str | None:
        if not rows:
            return None
        got, sent = (sum(r[key] for r in rows) for key in ("tokens_delivered", "tokens_expected"))
        return f"{got}/{sent}" + ("" if all(r["ok"] for r in rows) else " FAIL")

    verdict = "not measured" if not new else ("met" if all(r["ok"] for r in new) else "not met")
    return {
        "budget": "every token delivered",
        "unit": "tokens",
        "current": text(new),
        "baseline": text(old),
        "ratio": None,
        "verdict": verdict,
    }


def row(
    label: str,
    unit: str,
    new: list[dict],
    old: list[dict],
    key: str,
    limit: float | None = None,
    ratio: float | None = None,
) -> dict[str, Any]:
    """One field of both trees; the verdict is on an absolute `limit`, a `ratio`, or none."""
    a, b = (values([r.get(key) for r in rows]) for rows in (new, old))
    # A tree that broke off runs fewer times; its runs still pair with the other's in order.
    pairs = values([x[key] / y[key] for x, y in zip(new, old, strict=False) if x.get(key) is not None and y.get(key)])
    mid = {name: median(v) if v else None for name, v in (("current", a), ("baseline", b), ("ratio", pairs))}
    ok = all(r["ok"] for r in new)
    if limit is not None:
        verdict = "not measured" if mid["current"] is None else ("met" if mid["current"] <= limit else "not met")
    elif ratio is not None:
        verdict = "not measured" if mid["ratio"] is None else ("met" if mid["ratio"] <= ratio and ok else "not met")
    else:
        verdict = "-"
    spread = {
        f"{name}_range": [min(v), max(v)]
        for name, v in (("current", a), ("baseline", b), ("ratio", pairs))
        if len(v) > 1
    }
    return {"budget": label, "unit": unit, **mid, **spread, "verdict": verdict}


def values(items: list[float | None]) -> list[float]:
    return [v for v in items if v is not None]


def differs(meta: dict) -> list[str]:
    """Where this run's workload is not the one the issue's budget is stated for."""
    used = {**meta.get("workload", {}), "database": meta.get("database", "").split(",")[0]}
    return [f"{key} {used.get(key)} (the issue: {value})" for key, value in WORKLOAD.items() if used.get(key) != value]
