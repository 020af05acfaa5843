"""Issue 14's measurements in one command: first tokens and added latency against the floor, for
many owners and for one, bursts of starts, and N=1,000, with a verdict per target.

    python -m bench.ttft                       # about 3 minutes
    python -m bench.ttft --out-dir /tmp/ttft   # ttft.md there, and each step's latest.{md,json}
    python -m bench.ttft --parley-env LLM_FAST_TRANSPORT=1   # every step with the optional transport
    python -m bench.ttft --repeat 3            # every step thrice: each verdict on the median, with the range

Each step is one `python -m bench.run` (50 tokens/s, 100 tokens, PostgreSQL), the floor measured
in the same step where a target compares against it. docs/performance.md has the targets' history.
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from bench import run

ROOT = Path(__file__).resolve().parent.parent
COMMON = ["--tokens", "100", "--tps", "50", "--idle-n", "0", "--thread-n", "", "--scale-n", "0", "--break-ms", "1e9"]


@dataclass(frozen=True)
class Step:
    name: str
    impls: str
    n: str
    owners: str = "many"
    ramp: float = 1.0

    def argv(self, out: Path, db: str, parley_env: list[str] = ()) -> list[str]:
        return [
            *COMMON,
            *("--impls", self.impls, "--n", self.n, "--owners", self.owners, "--ramp", f"{self.ramp:g}"),
            *("--db", db, "--out-dir", str(out / self.name)),
            *(arg for item in parley_env for arg in ("--parley-env", item)),
        ]


STEPS = (
    Step("sweep", "parley,floor", "1,10,100,300"),
    Step("one-owner", "parley", "100,300", owners="one"),
    Step("burst", "parley,floor", "300", ramp=0),
    Step("burst-one-owner", "parley", "300", owners="one", ramp=0),
    Step("n1000", "parley,floor", "1000"),
    Step("n1000-one-owner", "parley", "1000", owners="one"),
)


class Results:
    """Each step's sweep rows, by step, implementation and N, from one or more runs of every step.

    A shared machine's speed moves a target in and out between runs half an hour apart, so with
    several runs each figure is their median, and `spread` gives their range."""

    def __init__(self, *runs: Path) -> None:
        self.runs = len(runs)
        self.rows: dict[str, dict[str, dict[int, list[dict]]]] = {}
        for out in runs:
            for step in STEPS:
                data = json.loads((out / step.name / "latest.json").read_text())
                for impl, rows in data["sweep"].items():
                    for row in rows:
                        self.rows.setdefault(step.name, {}).setdefault(impl, {}).setdefault(row["n"], []).append(row)

    def values(self, step: str, impl: str, n: int, key: str) -> list[float]:
        rows = self.rows.get(step, {}).get(impl, {}).get(n, [])
        return [row[key] for row in rows if row.get(key) is not None]

    def get(self, step: str, impl: str, n: int, key: str) -> float | None:
        values = self.values(step, impl, n, key)
        return statistics.median(values) if values else None

    def spread(self, step: str, impl: str, n: int, key: str) -> str:
        """The range over the runs, as ` (low-high)`, or nothing for a single run."""
        values = self.values(step, impl, n, key)
        return f" ({min(values):,.1f}-{max(values):,.1f})" if len(values) > 1 else ""

    def all_rows(self) -> list[dict]:
        return [row for step in self.rows.values() for by_n in step.values() for rows in by_n.values() for row in rows]


Verdict = tuple[str, str, bool | None]  # target, what was measured, met (None: not measured)


def at_most(target: str, value: float | None, limit: float | None, note: str = "") -> Verdict:
    if value is None or limit is None:
        return target, "not measured", None
    return target, f"{value:,.1f} ms{note}", value <= limit


def at_least(target: str, value: float | None, need: float, note: str = "") -> Verdict:
    return (target, "not measured", None) if value is None else (target, f"{value:,.0f}{note}", value >= need)


def parley(r: Results, step: str, n: int, key: str) -> tuple[float | None, str]:
    """Parley's figure at one step and N, and its range over the runs."""
    return r.get(step, "parley", n, key), r.spread(step, "parley", n, key)


def latency(r: Results, step: str, n: int, key: str, limit: float, target: str) -> Verdict:
    """Added latency, with the floor's at the same N beside it (the floor knows no owners)."""
    value, spread = parley(r, step, n, key)
    floor = r.get("sweep", "floor", n, key)
    return at_most(target, value, limit, spread + ("" if floor is None else f" (floor {floor:,.1f})"))


def verdicts(r: Results) -> list[Verdict]:
    """Each of the issue's targets against what the steps measured."""
    floor_n1 = r.get("sweep", "floor", 1, "first_token_p50_ms")
    floor_300 = r.get("sweep", "floor", 300, "first_token_p99_ms")
    floor_1000 = r.get("n1000", "floor", 1000, "first_token_p99_ms")
    value, spread = parley(r, "sweep", 1, "first_token_p50_ms")
    limit = None if floor_n1 is None else floor_n1 + 10
    out = [at_most("TTFT p50 at N=1 ≤ the floor's + 10 ms", value, limit, f"{spread} (floor {floor_n1 or 0:,.1f})")]
    for step, who in (("sweep", "many owners"), ("one-owner", "one owner")):
        value, spread = parley(r, step, 300, "first_token_p99_ms")
        limit = None if floor_300 is None else 2 * floor_300
        note = f"{spread} (floor {floor_300 or 0:,.1f})"
        out.append(at_most(f"TTFT p99 at N=300 ≤ twice the floor's, {who}", value, limit, note))
    for step, who in (("n1000", "many owners"), ("n1000-one-owner", "one owner")):
        value, spread = parley(r, step, 1000, "first_token_p99_ms")
        note = f"{spread} (floor {floor_1000 or 0:,.1f})"
        out.append(at_most(f"TTFT p99 at N=1,000 ≤ 1,500 ms, {who}", value, 1500, note))
    for step, n, who in (
        ("sweep", 1, "many owners"),
        ("sweep", 10, "many owners"),
        ("sweep", 100, "many owners"),
        ("one-owner", 100, "one owner"),
    ):
        out.append(latency(r, step, n, "latency_p50_ms", 5, f"added latency p50 at N={n} ≤ 5 ms, {who}"))
    for step, who in (("sweep", "many owners"), ("one-owner", "one owner")):
        out.append(latency(r, step, 300, "latency_p99_ms", 100, f"added latency p99 at N=300 ≤ 100 ms, {who}"))
    for step, need, who in (("burst", 1000, "many owners"), ("burst-one-owner", 500, "one owner")):
        value, spread = parley(r, step, 300, "starts_per_s")
        out.append(at_least(f"starts/s in a burst of 300 ≥ {need:,}, {who}", value, need, spread))
    rows = r.all_rows()
    bad = sum(row.get("lost", 0) + row.get("duplicates", 0) for row in rows)
    out.append(("nothing lost or duplicated", f"{bad} tokens in {len(rows)} runs", bad == 0))
    return out


def render(r: Results, parley_env: list[str] = ()) -> str:
    lines = ["# Issue 14's targets", ""]
    if parley_env:
        lines += [f"Parley ran with {', '.join(f'`{item}`' for item in parley_env)}.", ""]
    if r.runs > 1:
        lines += [f"Every step ran {r.runs} times: each figure is the median, Parley's range in brackets.", ""]
    lines += ["| target | measured | verdict |", "|---|---|---|"]
    for target, measured, met in verdicts(r):
        verdict = "not measured" if met is None else "met" if met else "**not met**"
        lines.append(f"| {target} | {measured} | {verdict} |")
    where = "`run-K/<step>/latest.md`" if r.runs > 1 else "`<step>/latest.md`"
    lines += ["", f"Each step's own report is {where} beside this file."]
    return "\n".join(lines) + "\n"


def run_dirs(out: Path, repeat: int) -> list[Path]:
    """Where each run of the steps writes: `out` itself for one run, `out/run-K` for several."""
    return [out] if repeat == 1 else [out / f"run-{k}" for k in range(1, repeat + 1)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "bench" / "results" / "ttft")
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument(
        "--parley-env", action="append", default=[], metavar="KEY=VALUE", help="passed to every step's bench.run"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of every step; verdicts on their medians")
    parser.add_argument("--only-render", action="store_true", help="rewrite ttft.md from the steps already run")
    args = parser.parse_args(argv)
    runs = run_dirs(args.out_dir, args.repeat)
    if not args.only_render:
        for out in runs:
            for step in STEPS:
                run.main(step.argv(out, args.db, args.parley_env))
    report = render(Results(*runs), args.parley_env)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "ttft.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
