"""`python -m bench.multihost failover|scale|up`: Parley on three "hosts" (network namespaces) behind nginx.

  failover  stream N conversations (300 by default), cut host 1 off and kill it mid-stream, check
            every reply; exit 0 only if every check held. JSON to --out.
  scale     streams one host carries against two at the same p99 (docs/performance.md).
  up        start the topology and keep it until Ctrl-C, to look around (the live console,
            /metrics on each process, curl --cacert <run>/tls/ca.pem --resolve chat.example.com:443:10.77.0.2).

Needs root (network namespaces), iproute2 and nginx (installed with apt-get when missing).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import shutil
import signal
import sys
from pathlib import Path

import django

from ..procs import ROOT, raise_nofile
from .failover import Plan, run, summary
from .network import Unavailable
from .scale import ScalePlan
from .scale import measure as scale_measure
from .scale import summary as scale_summary
from .topology import Topology

logger = logging.getLogger("bench.multihost")

STALE_AFTER = "5"  # seconds before another host finishes a lost host's replies (PARLEY_STALE_AFTER)
UNAVAILABLE = 77  # exit status when the machine cannot build the topology (the smoke test skips)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.multihost", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    failover = commands.add_parser("failover", help="lose a host mid-stream and check every reply")
    failover.add_argument("--conversations", type=int, default=Plan.conversations)
    failover.add_argument("--words", type=int, default=Plan.words, help="words per reply")
    failover.add_argument("--tps", type=float, default=Plan.tps, help="simulator tokens per second per reply")
    failover.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "multihost-failover.json")
    scale = commands.add_parser("scale", help="streams one host carries against two, at the same p99")
    scale.add_argument("--steps", type=ints, default=ScalePlan.steps, help="comma list of N to sweep")
    scale.add_argument("--p99-ms", type=float, default=ScalePlan.p99_ms, help="the p99 token latency bound")
    scale.add_argument("--host-cpu", type=float, default=ScalePlan.host_cpu, help="cores each host may use")
    scale.add_argument("--tokens", type=int, default=ScalePlan().work.tokens, help="tokens per reply")
    scale.add_argument("--tps", type=float, default=ScalePlan().work.tps, help="tokens per second per reply")
    scale.add_argument("--ramp", type=float, default=ScalePlan().work.ramp, help="seconds over which sends spread")
    scale.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "multihost-scale.json")
    commands.add_parser("up", help="start the topology and wait for Ctrl-C")
    return parser.parse_args(argv)


def failover(args: argparse.Namespace) -> int:
    plan = Plan(conversations=args.conversations, words=args.words, tps=args.tps)
    topology = Topology(settings={"PARLEY_STALE_AFTER": STALE_AFTER})
    try:
        topology.start()
        logger.info("topology up:\n%s", topology.describe())
        outcome = asyncio.run(run(topology, plan))
    finally:
        topology.stop()
    result = {**dataclasses.asdict(outcome), "ok": outcome.ok}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(summary(outcome))
    return finish(topology, outcome.ok)


def scale(args: argparse.Namespace) -> int:
    work = dataclasses.replace(ScalePlan().work, tokens=args.tokens, tps=args.tps, ramp=args.ramp)
    plan = ScalePlan(steps=tuple(args.steps), p99_ms=args.p99_ms, host_cpu=args.host_cpu, work=work)
    topology = Topology(settings={"PARLEY_LOG_LEVEL": "WARNING"})
    try:
        topology.start(running=1)
        result = scale_measure(topology, plan)
    finally:
        topology.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=str) + "\n")
    print(scale_summary(result))
    return finish(topology, result["target_met"])


def finish(topology: Topology, ok: bool) -> int:
    """The run's folder goes when all went well; otherwise its logs stay for a look."""
    if ok:
        shutil.rmtree(topology.workdir, ignore_errors=True)
        return 0
    print(f"Logs of the processes, nginx and the simulator: {topology.workdir}")
    return 1


def ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x)


def up() -> int:
    topology = Topology(settings={"PARLEY_STALE_AFTER": STALE_AFTER})
    try:
        topology.start()
        print(topology.describe(), flush=True)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        topology.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per readiness probe
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    django.setup()  # for the models' table names only
    args = parse(sys.argv[1:] if argv is None else argv)
    raise_nofile()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanups on `kill` too
    try:
        return {"failover": failover, "scale": scale}.get(args.command, lambda _: up())(args)
    except Unavailable as reason:
        print(f"multi-host topology unavailable: {reason}", file=sys.stderr)
        return UNAVAILABLE


if __name__ == "__main__":
    sys.exit(main())
