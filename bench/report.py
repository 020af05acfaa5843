"""Turns the results dictionary into latest.md: knees, targets and one table per scenario."""

from __future__ import annotations

from statistics import median
from typing import Any

KNEE_P99_MS = 100.0
IDLE_TARGET_KB = 40.0


def steps(rows: list[dict]) -> dict[int, dict[str, Any]]:
    """One row per N: a step run more than once (--repeat) is ok only if every run was, and its
    figures are the runs' medians, so one lucky run cannot make a knee."""
    by_n: dict[int, list[dict]] = {}
    for row in rows:
        by_n.setdefault(row["n"], []).append(row)
    return {n: merged(runs) for n, runs in by_n.items()}


def merged(runs: list[dict]) -> dict[str, Any]:
    row = {"n": runs[0]["n"], "ok": all(r["ok"] for r in runs)}
    for key in ("latency_p50_ms", "latency_p99_ms", "first_token_p50_ms", "first_token_p99_ms"):
        values = [r[key] for r in runs if r.get(key) is not None]
        row[key] = median(values) if values else None
    return row


def knee(rows: list[dict]) -> dict[str, Any]:
    """Largest N with zero loss and p99 ≤ 100 ms; `open` when the sweep never got past it."""
    by_n = steps(rows).values()
    good = [r["n"] for r in by_n if r["ok"] and r["latency_p99_ms"] is not None and r["latency_p99_ms"] <= KNEE_P99_MS]
    best = max(good, default=None)
    beyond = [r for r in rows if best is None or r["n"] > best]
    return {"n": best, "open": bool(rows) and not beyond}


def targets(results: dict) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) rows; a target whose inputs were not measured says so."""
    knees = {impl: knee(rows) for impl, rows in results.get("sweep", {}).items()}
    out = []
    p, nv, fl = (knees.get(k, {}).get("n") for k in ("parley", "naive", "floor"))
    if "parley" in knees and "naive" in knees:
        verdict = "not measurable" if p is None else ("met" if nv is None or p >= 5 * nv else "not met")
        measured = f"{fmt_knee(knees['parley'])} vs {fmt_knee(knees['naive'])}"
        out.append(("Parley knee ≥ 5x naive knee", measured, verdict))
    if "parley" in knees and "floor" in knees:
        verdict = "not measurable" if p is None else ("met" if fl is None or p > fl else "not met")
        note = " (floor never broke: only a lower bound)" if knees["floor"]["open"] else ""
        out.append(
            ("Parley knee > floor knee", f"{fmt_knee(knees['parley'])} vs {fmt_knee(knees['floor'])}{note}", verdict)
        )
    cpu = cpu_ratio(results.get("sweep", {}))
    if cpu:
        n, ratio = cpu
        verdict = "met" if ratio <= 0.2 else "not met"
        out.append(("Parley CPU/1k tokens ≤ 1/5 of naive", f"{ratio:.2f}x naive at N={n}", verdict))
    for row in results.get("idle", []):
        if row["impl"] == "parley" and row["rss_per_conn_kb"] is not None:
            kb = row["rss_per_conn_kb"]
            out.append(
                (
                    "Idle RSS ≤ 40 KB per conversation",
                    f"{kb:.1f} KB at {row['connected']} idle",
                    "met" if kb <= IDLE_TARGET_KB and row["ok"] else "not met",
                )
            )
    return out


def cpu_ratio(sweep: dict) -> tuple[int, float] | None:
    """Parley's CPU per 1k tokens over naive's, at the largest N both delivered without failure."""
    ok = {impl: {r["n"]: r for r in rows if r["ok"] and r["cpu_per_1k_tokens"]} for impl, rows in sweep.items()}
    common = set(ok.get("parley", {})) & set(ok.get("naive", {}))
    if not common:
        return None
    n = max(common)
    return n, ok["parley"][n]["cpu_per_1k_tokens"] / ok["naive"][n]["cpu_per_1k_tokens"]


KNEE_HEADER = ["impl", "knee N", "first token p50 / p99 ms", "added latency p50 / p99 ms"]


def knee_row(impl: str, rows: list[dict]) -> list[str]:
    """The knee, with its step's first token and added latency (the median of its runs)."""
    k = knee(rows)
    at = steps(rows).get(k["n"])
    if at is None:
        return [impl, fmt_knee(k), "-", "-"]
    return [
        impl,
        fmt_knee(k),
        f"{num(at['first_token_p50_ms'])} / {num(at['first_token_p99_ms'])}",
        f"{num(at['latency_p50_ms'])} / {num(at['latency_p99_ms'])}",
    ]


def fmt_knee(k: dict) -> str:
    if k["n"] is None:
        return "none"
    return f"≥{k['n']}" if k["open"] else str(k["n"])


def num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def active_row(r: dict) -> list[str]:
    return [
        r["impl"],
        str(r["n"]),
        "ok" if r["ok"] else "**FAIL**",
        f"{r['tokens_delivered']}/{r['tokens_expected']}",
        f"{r['lost']}/{r['duplicates']}/{r['reordered']}",
        num(r["latency_p50_ms"]),
        num(r["latency_p99_ms"]),
        num(r["latency_max_ms"]),
        f"{num(r['first_token_p50_ms'])} / {num(r['first_token_p99_ms'])} / {num(r.get('first_token_max_ms'))}",
        num(r.get("starts_per_s")),
        num(r["cpu_per_1k_tokens"], 2),
        pct(r["server_util"]),
        num(r["rss_peak_mb"]),
        num(r["rss_per_conn_kb"]),
        str(r["connect_errors"] + r["errors"] + r["timeouts"]),
        pct(r["harness_util"]),
        pct(r["simulator_util"]),
        num(r["redis_cpu_s"], 2),
        ", ".join(r["bottlenecks"]) or "-",
    ]


ACTIVE_HEADER = [
    "impl",
    "N",
    "result",
    "tokens recv/sent",
    "lost/dup/reord",
    "p50 ms",
    "p99 ms",
    "max ms",
    "first token p50 / p99 / max ms",
    "starts/s",
    "server CPU s/1k tok",
    "server core",
    "RSS peak MB",
    "RSS/conn KB",
    "conn+reply errors",
    "harness core",
    "sim core",
    "Redis CPU s",
    "bottleneck",
]


OWNERS = {"many": "one user per conversation", "one": "one user owning every conversation"}


def render(results: dict) -> str:
    meta = results["meta"]
    parts = [
        "# Parley benchmark: latest run",
        "",
        f"Mode `{meta['mode']}`, {meta['started']}, commit `{meta['commit']}`, {meta['machine']}.",
        f"Workload: L={meta['workload']['tokens']} tokens per reply at T={meta['workload']['tps']:g} tokens/s, "
        f"TTFT {meta['workload']['ttft']:g} s, sends spread over {meta['workload']['ramp']:g} s, "
        f"{OWNERS[meta['workload'].get('owners', 'many')]}. "
        f"Servers on core 0; harness and simulator on core 1; Redis: {meta['redis_placement']}. "
        f"Parley database: {meta['database']}.{baseline_line(meta)}",
        *budget_section(results.get("budget")),
        "",
        "## Targets",
        "",
        table(["target", "measured", "verdict"], [list(t) for t in targets(results)])
        if targets(results)
        else "No target could be evaluated in this run.",
        "",
        "Knees: the largest N with zero loss and p99 ≤ 100 ms (≥: the sweep never went past it), and the",
        "first tokens and added latency there.",
        "",
        table(KNEE_HEADER, [knee_row(impl, rows) for impl, rows in results.get("sweep", {}).items()]),
        "",
        "## Sweep",
        "",
        table(ACTIVE_HEADER, [active_row(r) for rows in results.get("sweep", {}).values() for r in rows]),
    ]
    parts += section("Scale-out (Parley, same N)", results.get("scaleout", []), scaleout_rows)
    parts += section("Idle capacity", results.get("idle", []), idle_rows)
    parts += section("Threads vs Parley", results.get("thread_table", []), thread_rows)
    skipped = results.get("skipped", [])
    if skipped:
        parts += ["", "## Not run or failed to run", ""] + [f"- {s}" for s in skipped]
    return "\n".join(parts) + "\n"


def baseline_line(meta: dict) -> str:
    base = meta.get("baseline")
    if not base:
        return ""
    return (
        f" Baseline `{base['impl']}`: commit `{base['commit']}` (`--baseline {base['rev']}`), run from a"
        " `git archive` of it with the same venv and its own database, step by step in turn with `parley`."
    )


BUDGET_DIGITS = {"ms": 1, "s": 3, "KB": 1}


def budget_section(budget: dict | None) -> list[str]:
    """Issue 12's budget table: the working tree, the baseline, their ratio and the verdict."""
    if not budget:
        return []
    names = ("current", "baseline", "ratio")
    rows = [[r["budget"], *(budget_cell(r, name) for name in names), r["verdict"]] for r in budget["rows"]]
    parts = [
        "",
        f"## Budget at N={budget['n']}: `{budget['current']}` against `{budget['baseline']}`",
        "",
        table(["budget", budget["current"], budget["baseline"], "ratio", "verdict"], rows),
    ]
    runs = budget["runs"]
    if max(runs.values(), default=0) > 1:
        parts += [
            "",
            f"Runs at N={budget['n']}: " + ", ".join(f"{impl} {k}" for impl, k in runs.items()) + ", alternating "
            "which tree went first. Each figure is the median, with the range in brackets; a ratio is the median "
            "of the ratios of runs made one after the other.",
        ]
    flags = "; ".join(f"{impl}: {'; '.join(f)}" for impl, f in budget["flags"].items())
    if flags:
        parts += ["", f"Steps at N={budget['n']} flagged: {flags}."]
    if budget["workload_differs"]:
        parts += ["", "This run's workload is not the issue's: " + ", ".join(budget["workload_differs"]) + "."]
    return parts


def budget_cell(row: dict, name: str) -> str:
    digits = 2 if name == "ratio" else BUDGET_DIGITS.get(row["unit"], 1)
    spread = row.get(f"{name}_range")
    return num(row[name], digits) + (f" ({num(spread[0], digits)}-{num(spread[1], digits)})" if spread else "")


def section(title: str, rows: list[dict], render_rows) -> list[str]:
    if not rows:
        return []
    return ["", f"## {title}", "", render_rows(rows)]


def scaleout_rows(rows: list[dict]) -> str:
    return table(["processes", *ACTIVE_HEADER[1:]], [[str(r["processes"]), *active_row(r)[1:]] for r in rows])


def idle_rows(rows: list[dict]) -> str:
    return table(
        [
            "impl",
            "idle conns",
            "connect errors",
            "time to connect s",
            "RSS cold MB",
            "RSS after warm-up MB",
            "RSS after MB",
            "RSS/conn KB",
            "VSZ MB",
            "threads",
        ],
        [
            [
                r["impl"],
                str(r["connected"]),
                str(r["connect_errors"]),
                num(r["connect_s"], 2),
                num(r.get("rss_cold_mb")),
                num(r["rss_before_mb"]),
                num(r["rss_after_mb"]),
                num(r["rss_per_conn_kb"]),
                num(r["vms_after_mb"], 0),
                str(r["threads"]),
            ]
            for r in rows
        ],
    )


def thread_rows(rows: list[dict]) -> str:
    return table(
        ["impl", "N", "RSS peak MB", "VSZ peak MB", "OS threads", "p99 ms", "failures", "bottleneck"],
        [
            [
                r["impl"],
                str(r["n"]),
                num(r["rss_peak_mb"]),
                num(r["vms_peak_mb"], 0),
                str(r["threads_peak"]),
                num(r["latency_p99_ms"]),
                f"{r['connect_errors']} conn, {r['errors'] + r['timeouts']} reply, {r['lost']} lost",
                ", ".join(r["bottlenecks"]) or "-",
            ]
            for r in rows
        ],
    )
