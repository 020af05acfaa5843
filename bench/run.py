"""One command for the whole benchmark: python -m bench.run --quick | --full [options].

Sweeps N for each implementation until it breaks, then runs the thread comparison, idle
capacity and scale-out scenarios, writing bench/results/latest.{json,md} after every step.
With --baseline REV, Parley as of that commit is measured beside the working tree, in turn
step by step, and the report opens with issue 12's budget table
(python -m bench.run --preset issue12 --baseline REV).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import shlex
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from . import budget, report, scenarios
from .checkouts import CURRENT, Checkout, extract, is_parley, working_tree
from .database import throwaway
from .impls import IMPLEMENTATIONS, World, ready
from .procs import (
    HARNESS_CORE,
    PYTHON,
    ROOT,
    RedisCpu,
    Tree,
    free_port,
    launch,
    pin_self,
    raise_nofile,
    stop,
    wait_port,
)

logger = logging.getLogger("bench")

MODES = {
    # 200 and 500 because the knees of Parley, the floor and the thread server lie close together
    # on this machine, where a coarser grid reported them all alike.
    "quick": {"n": [10, 100, 200, 300], "idle_n": 1000, "thread_n": [100, 1000], "scale_n": 300},
    "full": {
        "n": [10, 100, 200, 300, 500, 1000, 3000],
        "idle_n": 10000,
        "thread_n": [100, 1000, 10000],
        "scale_n": 1000,
    },
}
# A preset sets the workload and the sizes; options given on the command line still win.
PRESETS = {
    # Issue 12's budget: N=300 at 50 tokens/s and 100 tokens per reply, idle memory at 10,000;
    # the budget's step thrice per tree, because one pair of runs can differ by more than the budget.
    "issue12": {
        "impls": "parley",
        "tokens": 100,
        "tps": 50.0,
        "n": [10, 100, 200, 300],
        "idle_n": 10000,
        "thread_n": [],
        "scale_n": 0,
        "repeat": 3,
    },
}
DEFAULTS = {"impls": ",".join(IMPLEMENTATIONS), "tps": 50.0, "tokens": 200, "repeat": 1}


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_const", const="quick", dest="mode", help="N 10,100,200,300 (default)")
    mode.add_argument("--full", action="store_const", const="full", dest="mode", help="N up to 3000, 10k idle")
    p.add_argument(
        "--preset", choices=PRESETS, help="issue12: its workload and sizes, Parley only, the budget step thrice"
    )
    p.add_argument("--impls", help="comma list of parley,naive,threads,floor (default: all)")
    p.add_argument("--n", type=ints, help="comma list of N for the sweep")
    p.add_argument("--tps", type=float, help="T: tokens per second per reply (default 50)")
    p.add_argument("--tokens", type=int, help="L: tokens per reply (default 200; the issue12 preset: 100)")
    p.add_argument("--ttft", type=float, default=0.2, help="seconds before the first token")
    p.add_argument("--ramp", type=float, default=1.0, help="seconds over which the N sends are spread")
    p.add_argument(
        "--owners",
        choices=("many", "one"),
        default="many",
        help="Parley: one user per conversation (default), or one user owning all (caps raised to N)",
    )
    p.add_argument("--slack", type=float, default=30.0, help="seconds past the ideal reply time before a timeout")
    p.add_argument("--break-ms", type=float, default=1000.0, help="stop sweeping an impl once its p99 exceeds this")
    p.add_argument("--max-seconds", type=float, default=3600.0, help="start no new step after this many seconds")
    p.add_argument("--idle-n", type=int, help="idle connections on one Parley process (0 skips)")
    p.add_argument("--thread-n", type=ints, help="N list for the threads vs Parley table (empty skips)")
    p.add_argument("--scale-n", type=int, help="N for the two-process scale-out run (0 skips)")
    p.add_argument("--db", choices=("postgres", "sqlite"), default="postgres", help="Parley's throwaway database")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    p.add_argument("--simulator", default=f"{PYTHON} -m conversations.llm.simulator", help="command to start it")
    p.add_argument(
        "--parley-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for Parley, e.g. DATABASE_CONN_MAX_AGE=60 (repeatable)",
    )
    p.add_argument("--baseline", metavar="REV", help="also measure Parley as of this commit, as parley@<commit>")
    p.add_argument("--budget-n", type=int, default=300, help="N of the budget table; added to --n (default 300)")
    p.add_argument("--repeat", type=int, help="with --baseline, run the budget's step this often per tree (default 1)")
    p.add_argument("--out-dir", type=Path, default=ROOT / "bench" / "results")
    args = p.parse_args(argv)
    args.mode = args.mode or "quick"
    for key in ("impls", "tps", "tokens", "n", "idle_n", "thread_n", "scale_n", "repeat"):
        if getattr(args, key) is None:
            setattr(args, key, PRESETS.get(args.preset, {}).get(key, MODES[args.mode].get(key, DEFAULTS.get(key))))
    args.impls = [i for i in args.impls.split(",") if i]
    unknown = set(args.impls) - set(IMPLEMENTATIONS)
    if unknown:
        p.error(f"unknown implementation(s) {', '.join(sorted(unknown))}")
    if args.baseline:
        args.impls = [CURRENT, *(i for i in args.impls if i != CURRENT)]
        args.n = sorted({*args.n, args.budget_n})
    return args


class Bench:
    """Holds the shared processes and the results, and writes both outputs after every step."""

    def __init__(self, args: argparse.Namespace, world: World, meters: scenarios.Meters, base: Checkout | None) -> None:
        self.args = args
        self.world = world
        self.meters = meters
        self.work = scenarios.Workload(args.tokens, args.tps, args.ttft, args.ramp, args.slack)
        self.deadline = time.monotonic() + args.max_seconds
        self.results: dict = {
            "meta": meta(args, meters, base),
            "sweep": {},
            "thread_table": [],
            "idle": [],
            "scaleout": [],
            "skipped": [],
        }

    def step(self, label: str, job, *args) -> dict | None:
        if time.monotonic() > self.deadline:
            self.results["skipped"].append(f"{label}: --max-seconds reached")
            return None
        logger.info("running %s", label)
        try:
            row = job(*args)
        except Exception as error:
            logger.exception("%s failed to run", label)
            self.results["skipped"].append(f"{label}: could not run ({type(error).__name__}: {error})")
            return None
        logger.info("%s: %s", label, {k: row.get(k) for k in ("ok", "latency_p99_ms", "lost", "cpu_per_1k_tokens")})
        return row

    def sweep(self) -> None:
        """Every implementation at one N before any goes on to the next, so that the machine's
        changing speed falls alike on all of them; each stops at its first failure or break."""
        going = list(self.args.impls)
        for n in self.args.n:
            rounds = self.args.repeat if self.args.baseline and n == self.args.budget_n else 1
            for r in range(rounds):
                # Repeats of the budget's step alternate which tree goes first.
                for impl in going[::-1] if r % 2 else list(going):
                    label = f"{impl} N={n}" + (f" ({r + 1}/{rounds})" if rounds > 1 else "")
                    row = self.step(label, scenarios.active, impl, self.world, n, self.work, self.meters)
                    if row is not None:
                        self.results["sweep"].setdefault(impl, []).append(row)
                        self.write()
                    if row is None or not row["ok"] or (row["latency_p99_ms"] or 0) > self.args.break_ms:
                        going.remove(impl)

    def thread_table(self) -> None:
        for n in self.args.thread_n:
            for impl in ("threads", "parley"):
                if impl not in self.args.impls:
                    continue
                done = [r for r in self.results["sweep"].get(impl, []) if r["n"] == n]
                row = (
                    done[0]
                    if done
                    else self.step(
                        f"thread table {impl} N={n}", scenarios.active, impl, self.world, n, self.work, self.meters
                    )
                )
                if row is not None:
                    self.results["thread_table"].append(row)
                    self.write()

    def idle(self) -> None:
        n = self.args.idle_n
        for impl in filter(is_parley, self.args.impls):
            row = self.step(f"idle {impl} N={n}", scenarios.idle, impl, self.world, n, self.work)
            if row is not None:
                self.results["idle"].append(row)
                self.write()

    def scaleout(self) -> None:
        n = self.args.scale_n
        for processes in (1, 2):
            row = self.step(
                f"scale-out parley N={n} processes={processes}",
                scenarios.active,
                "parley",
                self.world,
                n,
                self.work,
                self.meters,
                processes,
            )
            if row is not None:
                self.results["scaleout"].append(row)
                self.write()

    def write(self) -> None:
        baseline = self.results["meta"].get("baseline")
        if baseline:
            self.results["budget"] = budget.evaluate(self.results, baseline["impl"], self.args.budget_n)
        out = self.args.out_dir
        out.mkdir(parents=True, exist_ok=True)
        (out / "latest.json").write_text(json.dumps(self.results, indent=1, default=str))
        (out / "latest.md").write_text(report.render(self.results))


def meta(args: argparse.Namespace, meters: scenarios.Meters, base: Checkout | None) -> dict:
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
    return {
        "mode": args.mode + (f", preset {args.preset}" if args.preset else ""),
        "baseline": base and {"impl": base.name, "commit": base.commit, "rev": args.baseline},
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit.stdout.strip() or "unknown",
        "machine": f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}",
        "workload": {
            "tokens": args.tokens,
            "tps": args.tps,
            "ttft": args.ttft,
            "ramp": args.ramp,
            "owners": args.owners,
        },
        "redis_placement": meters.redis.placement(),
        "database": args.db + "".join(f", {item}" for item in args.parley_env),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args = parse(argv)
    pin_self(HARNESS_CORE)
    raise_nofile(1 << 20)
    workdir = ROOT / "bench" / "results" / "tmp" / (datetime.now().strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}")
    workdir.mkdir(parents=True, exist_ok=True)
    base = extract(args.baseline, workdir) if args.baseline else None
    if base is not None:
        args.impls.insert(1, base.name)
        logger.info("baseline %s extracted to %s", base.name, base.root)
    sim_port = free_port()
    sim_args = [
        *shlex.split(args.simulator),
        "--host",
        "127.0.0.1",
        "--port",
        str(sim_port),
        "--tps",
        f"{args.tps:g}",
        "--ttft",
        f"{args.ttft:g}",
        "--tokens",
        str(args.tokens),
        "--seed",
        "0",
    ]
    simulator = launch(sim_args, core=HARNESS_CORE, env={}, log=workdir / "simulator.log")
    try:
        wait_port(sim_port, simulator)
        meters = scenarios.Meters(Tree(simulator.pid), RedisCpu(args.redis_url))
        trees = [t for t in (working_tree(), base) if t is not None and t.name in args.impls]
        world = World(
            workdir,
            args.redis_url,
            f"http://127.0.0.1:{sim_port}/v1",
            parleys={t.name: t for t in trees},
            parley_overrides=dict(item.split("=", 1) for item in args.parley_env),
            one_owner=args.owners == "one",
        )
        with contextlib.ExitStack() as databases:
            for tree in trees:
                tree.database_url = databases.enter_context(throwaway(args.db, workdir, tree.suffix))
                ready(world, tree)
            bench = Bench(args, world, meters, base)
            bench.sweep()
            bench.thread_table()
            if trees and args.idle_n:
                bench.idle()
            if CURRENT in args.impls and args.scale_n:
                bench.scaleout()
            bench.write()
    finally:
        stop(simulator)
        if base is not None:
            shutil.rmtree(base.root)  # a copy of a commit; the logs beside it stay
    logger.info("wrote %s", args.out_dir / "latest.md")


if __name__ == "__main__":
    main()
