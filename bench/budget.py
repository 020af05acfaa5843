"""Issue 12's performance budget: the working tree against a baseline commit measured in the same run.

Latency and delivery are absolute limits on the working tree; CPU and idle memory are ratios to
the baseline, because this machine's speed changes too much between runs for absolute numbers.
"""

from __future__ import annotations

from typing import Any

from .checkouts import CURRENT

P99_MS = 100.0  # p99 added latency at the budget's N
CPU_RATIO = 1.20  # CPU per 1k tokens may rise at most 20%
IDLE_RATIO = 1.15  # idle RSS per socket may rise at most 15%
WORKLOAD = {"tokens": 100, "tps": 50.0, "database": "postgres"}  # what the issue measures at


def evaluate(results: dict, baseline: str, n: int) -> dict[str, Any]:
    """The budget rows for the working tree (`parley`) against `baseline` at N=n."""
    new, old = (at(results.get("sweep", {}).get(impl, []), n) for impl in (CURRENT, baseline))
    idle_new, idle_old = (idle(results.get("idle", []), impl) for impl in (CURRENT, baseline))
    idle_n = (idle_new or idle_old or {}).get("n")
    rows = [
        delivered(new, old),
        row(f"p99 added latency ≤ {P99_MS:g} ms", "ms", new, old, "latency_p99_ms", limit=P99_MS),
        row(f"CPU s per 1k tokens ≤ {CPU_RATIO:.2f}x baseline", "s", new, old, "cpu_per_1k_tokens", ratio=CPU_RATIO),
        row(
            f"idle RSS KB per socket at {idle_n or '-'} ≤ {IDLE_RATIO:.2f}x baseline",
            "KB",
            idle_new,
            idle_old,
            "rss_per_conn_kb",
            ratio=IDLE_RATIO,
        ),
        row("first token p50 ms (no budget)", "ms", new, old, "first_token_p50_ms"),
        row("first token p99 ms (no budget)", "ms", new, old, "first_token_p99_ms"),
    ]
    return {
        "n": n,
        "current": CURRENT,
        "baseline": baseline,
        "rows": rows,
        "flags": {impl: r["bottlenecks"] for impl, r in ((CURRENT, new), (baseline, old)) if r and r["bottlenecks"]},
        "workload_differs": differs(results.get("meta", {})),
    }


def at(rows: list[dict], n: int) -> dict | None:
    return next((r for r in rows if r["n"] == n and r.get("processes", 1) == 1), None)


def idle(rows: list[dict], impl: str) -> dict | None:
    return next((r for r in rows if r["impl"] == impl), None)


def delivered(new: dict | None, old: dict | None) -> dict[str, Any]:
    """Every token, with no loss, duplicate, reorder, error or timeout (the step's `ok`)."""

    def text(r: dict | None) -> str | None:
        return None if r is None else f"{r['tokens_delivered']}/{r['tokens_expected']}" + ("" if r["ok"] else " FAIL")

    verdict = "not measured" if new is None else ("met" if new["ok"] else "not met")
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
    new: dict | None,
    old: dict | None,
    key: str,
    limit: float | None = None,
    ratio: float | None = None,
) -> dict[str, Any]:
    """One measured field of both trees; the verdict is on an absolute `limit`, a `ratio`, or none."""
    a = None if new is None else new.get(key)
    b = None if old is None else old.get(key)
    quotient = a / b if a is not None and b else None
    if limit is not None:
        verdict = "not measured" if a is None else ("met" if a <= limit else "not met")
    elif ratio is not None:
        verdict = "not measured" if quotient is None else ("met" if quotient <= ratio and new["ok"] else "not met")
    else:
        verdict = "-"
    return {"budget": label, "unit": unit, "current": a, "baseline": b, "ratio": quotient, "verdict": verdict}


def differs(meta: dict) -> list[str]:
    """Where this run's workload is not the one the issue's budget is stated for."""
    used = {**meta.get("workload", {}), "database": meta.get("database", "").split(",")[0]}
    return [f"{key} {used.get(key)} (the issue: {value})" for key, value in WORKLOAD.items() if used.get(key) != value]
