"""Issue 14's measurements in one command: first tokens and added latency against the floor, for
many owners and for one, bursts of starts, and N=1,000, with a verdict per target.

    python -m bench.ttft                       # about 3 minutes
    python -m bench.ttft --out-dir /tmp/ttft   # ttft.md there, and each step's latest.{md,json}
    python -m bench.ttft --parley-env LLM_FAST_TRANSPORT=1   # every step with the optional transport

Each step is one `python -m bench.run` (50 tokens/s, 100 tokens, PostgreSQL), the floor measured
in the same step where a target compares against it. docs/performance.md has the targets' history.
"""

from __future__ import annotations

import argparse
import json
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
    """Each step's sweep rows, by step, implementation and N."""

    def __init__(self, out: Path) -> None:
        self.rows = {}
        for step in STEPS:
            data = json.loads((out / step.name / "latest.json").read_text())
            self.rows[step.name] = {impl: {r["n"]: r for r in rows} for impl, rows in data["sweep"].items()}

    def get(self, step: str, impl: str, n: int, key: str) -> float | None:
        row = self.rows.get(step, {}).get(impl, {}).get(n)
        return None if row is None else row.get(key)


Verdict = tuple[str, str, bool | None]  # target, what was measured, met (None: not measured)


def at_most(target: str, value: float | None, limit: float | None, note: str = "") -> Verdict:
    if value is None or limit is None:
        return target, "not measured", None
    return target, f"{value:,.1f} ms{note}", value <= limit


def at_least(target: str, value: float | None, need: float) -> Verdict:
    return (target, "not measured", None) if value is None else (target, f"{value:,.0f}", value >= need)


def latency(r: Results, step: str, n: int, key: str, limit: float, target: str) -> Verdict:
    """Added latency, with the floor's at the same N beside it (the floor knows no owners)."""
    floor = r.get("sweep", "floor", n, key)
    note = "" if floor is None else f" (floor {floor:,.1f})"
    return at_most(target, r.get(step, "parley", n, key), limit, note)


def verdicts(r: Results) -> list[Verdict]:
    """Each of the issue's targets against what the steps measured."""
    floor_n1 = r.get("sweep", "floor", 1, "first_token_p50_ms")
    floor_300 = r.get("sweep", "floor", 300, "first_token_p99_ms")
    floor_1000 = r.get("n1000", "floor", 1000, "first_token_p99_ms")
    out = [
        at_most(
            "TTFT p50 at N=1 ≤ the floor's + 10 ms",
            r.get("sweep", "parley", 1, "first_token_p50_ms"),
            None if floor_n1 is None else floor_n1 + 10,
            f" (floor {floor_n1 or 0:,.1f})",
        )
    ]
    for step, who in (("sweep", "many owners"), ("one-owner", "one owner")):
        value = r.get(step, "parley", 300, "first_token_p99_ms")
        limit = None if floor_300 is None else 2 * floor_300
        out.append(
            at_most(f"TTFT p99 at N=300 ≤ twice the floor's, {who}", value, limit, f" (floor {floor_300 or 0:,.1f})")
        )
    for step, who in (("n1000", "many owners"), ("n1000-one-owner", "one owner")):
        value = r.get(step, "parley", 1000, "first_token_p99_ms")
        out.append(at_most(f"TTFT p99 at N=1,000 ≤ 1,500 ms, {who}", value, 1500, f" (floor {floor_1000 or 0:,.1f})"))
    for step, n, who in (
        ("sweep", 1, "many owners"),
        ("sweep", 10, "many owners"),
        ("sweep", 100, "many owners"),
        ("one-owner", 100, "one owner"),
    ):
        out.append(latency(r, step, n, "latency_p50_ms", 5, f"added latency p50 at N={n} ≤ 5 ms, {who}"))
    for step, who in (("sweep", "many owners"), ("one-owner", "one owner")):
        out.append(latency(r, step, 300, "latency_p99_ms", 100, f"added latency p99 at N=300 ≤ 100 ms, {who}"))
    out.append(
        at_least("starts/s in a burst of 300 ≥ 1,000, many owners", r.get("burst", "parley", 300, "starts_per_s"), 1000)
    )
    out.append(
        at_least(
            "starts/s in a burst of 300 ≥ 500, one owner", r.get("burst-one-owner", "parley", 300, "starts_per_s"), 500
        )
    )
    rows = [row for step in r.rows.values() for by_n in step.values() for row in by_n.values()]
    bad = sum(row.get("lost", 0) + row.get("duplicates", 0) for row in rows)
    out.append(("nothing lost or duplicated", f"{bad} tokens in {len(rows)} runs", bad == 0))
    return out


def render(r: Results, parley_env: list[str] = ()) -> str:
    lines = ["# Issue 14's targets", ""]
    if parley_env:
        lines += [f"Parley ran with {', '.join(f'`{item}`' for item in parley_env)}.", ""]
    lines += ["| target | measured | verdict |", "|---|---|---|"]
    for target, measured, met in verdicts(r):
        verdict = "not measured" if met is None else "met" if met else "**not met**"
        lines.append(f"| {target} | {measured} | {verdict} |")
    lines += ["", "Each step's own report is `<step>/latest.md` beside this file."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "bench" / "results" / "ttft")
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument(
        "--parley-env", action="append", default=[], metavar="KEY=VALUE", help="passed to every step's bench.run"
    )
    parser.add_argument("--only-render", action="store_true", help="rewrite ttft.md from the steps already run")
    args = parser.parse_args(argv)
    if not args.only_render:
        for step in STEPS:
            run.main(step.argv(args.out_dir, args.db, args.parley_env))
    report = render(Results(args.out_dir), args.parley_env)
    (args.out_dir / "ttft.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
