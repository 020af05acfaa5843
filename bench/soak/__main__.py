"""`python -m bench.soak --minutes 30`: mixed traffic on two Parley processes with faults every few
minutes, reporting lost characters (target 0), RSS drift (target < 5%) and leaked Redis
subscriptions (target 0). It runs on a private PostgreSQL and Redis; the report goes to stdout and,
as JSON, to --out. The exit status is 0 only when every target is met.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import sys
import time
from pathlib import Path

import django
import psycopg

from ..procs import ROOT
from . import memory
from .cluster import Cluster
from .faults import BY_NAME, inject_every
from .traffic import Tally, converse

RSS_DRIFT_TARGET = 0.05
SETTLE_DEADLINE = 30.0  # seconds for subscriptions to drain once the last socket closed
# A user moves on to a new conversation after this many messages, as people do: a conversation that
# grew all run would make each reply's history and each socket's snapshot grow with it, and RSS
# with them, whether or not anything leaked (docs/performance.md, the soak).
TURNS = 20
SENDS_PER_SECOND = 2  # at most, per conversation slot: how many fresh conversations --turns needs


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long traffic runs")
    parser.add_argument("--processes", type=int, default=2, help="Parley processes (the last one is killed)")
    parser.add_argument("--users", type=int, default=3)
    parser.add_argument("--conversations", type=int, default=3, help="conversations per user at a time")
    parser.add_argument("--fault-every", type=float, default=180.0, help="seconds between faults")
    parser.add_argument(
        "--faults", default=",".join(BY_NAME), help=f"the rotation of faults, comma-separated ({', '.join(BY_NAME)})"
    )
    parser.add_argument(
        "--turns",
        type=int,
        default=TURNS,
        help=f"messages a user sends in a conversation before starting the next one (default {TURNS}; 0: never)",
    )
    parser.add_argument("--max-words", type=int, default=300, help="longest reply, in words")
    parser.add_argument(
        "--stale-after", type=float, help="PARLEY_STALE_AFTER for the processes (Parley's default if not given)"
    )
    parser.add_argument(
        "--trace-memory",
        action="store_true",
        help="trace the steady process's heap (tracemalloc) and report what grew after the warm-up",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the Parley processes, e.g. MALLOC_ARENA_MAX=2 (repeatable)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "soak-latest.json")
    return parser.parse_args(argv)


async def soak(args: argparse.Namespace) -> dict:
    settings = dict(pair.split("=", 1) for pair in args.env)
    if args.stale_after is not None:
        settings["PARLEY_STALE_AFTER"] = str(args.stale_after)
    cluster = Cluster(args.processes, settings=settings, trace=args.trace_memory)
    try:
        await asyncio.to_thread(cluster.start)
        spare = math.ceil(args.minutes * 60 * SENDS_PER_SECOND / args.turns) if args.turns else 1
        seeded = [await asyncio.to_thread(cluster.seed, args.conversations * spare) for _ in range(args.users)]
        subscriptions_before = await asyncio.to_thread(cluster.subscriptions)
        loop = asyncio.get_running_loop()
        duration = args.minutes * 60
        until = loop.time() + duration
        tally, faults, rss = Tally(), [], []
        steady = cluster.processes[0]
        sampler = asyncio.create_task(sample_rss(steady, rss, every=max(1.0, duration / 60)))
        if args.trace_memory:
            warm_trace = asyncio.create_task(trace_after(steady, cluster.traces, 0, duration / 10))
        rotation = tuple(name for name in args.faults.split(",") if name)
        injector = asyncio.create_task(inject_every(cluster, args.fault_every, until, faults, rotation))
        users = [
            converse(cluster, cookie, convs, tally, until, args.seed * 1000 + n, args.max_words, args.turns)
            for n, (cookie, convs) in enumerate(slots(seeded, args.conversations))
        ]
        await asyncio.gather(*users)
        await injector
        sampler.cancel()
        rss_end = steady.rss()
        growth = None
        if args.trace_memory:
            await warm_trace
            await trace_after(steady, cluster.traces, 1, 0)
            growth = await asyncio.to_thread(memory.heap_growth, cluster.traces, 0, 1)
        subscriptions_after = await settled_subscriptions(cluster, subscriptions_before)
        replies, sizes = await asyncio.to_thread(saved_replies, cluster.postgres.url, tally)
    finally:
        await asyncio.to_thread(cluster.stop)
    result = report(args, tally, replies, faults, rss, rss_end, subscriptions_before, subscriptions_after)
    result.update(conversations_used=len(sizes), longest_conversation_messages=max(sizes.values(), default=0))
    return result if growth is None else {**result, "heap_growth": growth}


def slots(seeded: list[tuple[str, list[str]]], per_user: int) -> list[tuple[str, list[str]]]:
    """Each user's conversations dealt into `per_user` slots that send at the same time; a slot
    moves on to its next conversation after --turns messages."""
    return [(cookie, conversations[n::per_user]) for cookie, conversations in seeded for n in range(per_user)]


async def sample_rss(process, samples: list[int], every: float) -> None:
    while True:
        samples.append(process.rss())
        await asyncio.sleep(every)


async def trace_after(process, folder: Path, number: int, seconds: float) -> None:
    """After `seconds`, have the traced process write heap snapshot `number`, and wait for it."""
    await asyncio.sleep(seconds)
    process.process.send_signal(signal.SIGUSR2)
    await asyncio.to_thread(memory.wait_for_snapshot, folder, number)


async def settled_subscriptions(cluster: Cluster, baseline: dict[str, int]) -> dict[str, int]:
    """Subscriptions once every socket's have drained, or what is left after SETTLE_DEADLINE."""
    deadline = time.monotonic() + SETTLE_DEADLINE
    while True:
        held = await asyncio.to_thread(cluster.subscriptions)
        if sum(held.values()) <= sum(baseline.values()) or time.monotonic() > deadline:
            return held
        await asyncio.sleep(0.5)


def saved_replies(database_url: str, tally: Tally) -> tuple[dict[str, tuple[str, str]], dict[str, int]]:
    """Each reply's status and text as saved, and the size in messages of each conversation they are in."""
    from conversations.models import Message

    ids = [reply.id for reply in tally.replies]
    table = Message._meta.db_table
    query = f"SELECT id::text, status, content, conversation_id::text FROM {table} WHERE id::text = ANY(%s)"
    sizes = f"SELECT conversation_id::text, count(*) FROM {table} WHERE conversation_id::text = ANY(%s) GROUP BY 1"
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(query, [ids]).fetchall()
        conversations = sorted({row[3] for row in rows})
        return {row[0]: (row[1], row[2]) for row in rows}, dict(connection.execute(sizes, [conversations]).fetchall())


def common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def report(args, tally, saved, faults, rss, rss_end, subscriptions_before, subscriptions_after) -> dict:
    statuses: dict[str, int] = {}
    lost = wrong = 0
    for reply in tally.replies:
        status, content = saved.get(reply.id, ("missing", ""))
        statuses[status] = statuses.get(status, 0) + 1
        lost += len(reply.shown) - common_prefix(reply.shown, content)  # shown to the user, then not saved
        wrong += status == "complete" and content != reply.text
    warm = rss[len(rss) // 10] if rss else rss_end  # after the first tenth: imports, pools and caches are built
    drift = (rss_end - warm) / warm
    leaked = max(0, sum(subscriptions_after.values()) - sum(subscriptions_before.values()))
    left = sorted(set(subscriptions_after) - set(subscriptions_before))
    return {
        "minutes": args.minutes,
        "processes": args.processes,
        "conversations": args.users * args.conversations,
        "replies": len(tally.replies),
        "characters_shown": sum(len(reply.shown) for reply in tally.replies),
        "statuses": statuses,
        "refused_sends": tally.refused,
        "reconnects": tally.reconnects,
        "faults": faults,
        "lost_characters": lost,
        "complete_but_wrong_text": wrong,
        "rss_warm_bytes": warm,
        "rss_end_bytes": rss_end,
        "rss_drift": round(drift, 4),
        "rss_samples_mib": [round(sample / 2**20, 1) for sample in rss],
        "subscriptions_before": sum(subscriptions_before.values()),
        "subscriptions_after": sum(subscriptions_after.values()),
        "leaked_subscriptions": leaked,
        "channels_left_subscribed": left[:20],
        "targets_met": lost == 0 and wrong == 0 and drift < RSS_DRIFT_TARGET and leaked == 0,
    }


def summary(result: dict) -> str:
    faults = ", ".join(f"{f['fault']} ({f['seconds']} s)" for f in result["faults"]) or "none"
    return "\n".join(
        [
            f"Soak: {result['minutes']} min, {result['processes']} processes, {result['conversations']} conversations",
            f"Replies: {result['replies']} ({result['statuses']}), {result['characters_shown']} characters shown",
            f"Conversations: {result['conversations_used']}, the longest {result['longest_conversation_messages']} "
            "messages",
            f"Refused sends: {result['refused_sends']}, reconnects: {result['reconnects']}",
            f"Faults: {faults}",
            f"Lost characters: {result['lost_characters']} (target 0); complete with wrong text: "
            f"{result['complete_but_wrong_text']}",
            f"RSS drift of the steady process: {result['rss_drift']:+.1%} "
            f"({result['rss_warm_bytes'] / 2**20:.1f} -> {result['rss_end_bytes'] / 2**20:.1f} MiB; target < 5%)",
            f"Redis subscriptions: {result['subscriptions_before']} before, {result['subscriptions_after']} after; "
            f"leaked {result['leaked_subscriptions']} (target 0)",
            f"Targets met: {'yes' if result['targets_met'] else 'NO'}",
            *heap_summary(result.get("heap_growth")),
        ]
    )


def heap_summary(growth: dict | None) -> list[str]:
    if growth is None:
        return []
    before, after = growth["traced_before_bytes"] / 2**20, growth["traced_after_bytes"] / 2**20
    lines = [f"Traced heap after the warm-up: {before:.1f} -> {after:.1f} MiB; grew most at:"]
    for site in growth["sites"][:8]:
        lines.append(f"  {site['bytes'] / 1024:+.0f} KiB in {site['blocks']:+d} blocks:")
        lines += [f"    {line}" for line in site["traceback"]]
    lines.append("Objects whose count grew most: " + ", ".join(f"{k} {v:+d}" for k, v in growth["types"].items()))
    return lines


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    django.setup()  # for the models' table names only: the soak never opens the app's database itself
    args = parse(sys.argv[1:] if argv is None else argv)
    if unknown := set(args.faults.split(",")) - set(BY_NAME) - {""}:
        raise SystemExit(f"unknown faults: {', '.join(sorted(unknown))}")
    result = asyncio.run(soak(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(summary(result))
    return 0 if result["targets_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
