"""Full-text search on a large history: python -m bench.search [--messages 100000] [--db postgres].

Fills a throwaway database with one user's conversations (bulk_create, every message a chain
link, a stranger's conversations beside them), then times the search selector for a set of
queries with the database's own engine and with the substring fallback (`icontains`, the
baseline) in the same run, and GET /api/search/ end to end. Prints p50/p95 per query and overall;
docs/performance.md records the numbers. Issue 16's target: p95 under 100 ms on PostgreSQL.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from .database import DEFAULT_ADMIN_URL, throwaway

MESSAGES_PER_CHAT = 20
BATCH = 5_000
VOCABULARY = 6_000  # made-up words, Zipf-distributed like real text
# Words planted at known rates, so every query has a known share of the history to find.
PLANTED = {"lighthouse": 0.10, "saffron": 0.01, "quasar": 0.001}
QUERIES = [
    "quasar",  # rare: about 0.1% of messages
    "saffron",  # uncommon: 1%
    "lighthouse",  # common: 10%
    "lighthouse saffron",  # both words
    '"saffron lighthouse"',  # a phrase
    "lighthouse -saffron",  # an exclusion
    "quasar or saffron",  # alternatives
    "voyage",  # in titles
    "zzyzzyva",  # nothing
]


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, default=100_000, help="messages of the searching user")
    p.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    p.add_argument("--admin-url", default=os.environ.get("BENCH_ADMIN_URL", DEFAULT_ADMIN_URL))
    p.add_argument("--rounds", type=int, default=30, help="timed runs of each query per engine")
    p.add_argument("--baseline-rounds", type=int, default=10, help="timed runs of each query on the fallback")
    p.add_argument("--seed", type=int, default=16)
    p.add_argument("--json", type=Path, help="also write the results here")
    return p.parse_args(argv)


def words_source(rng: random.Random):
    vocabulary = [made_up_word(rng) for _ in range(VOCABULARY)]
    weights = list(itertools.accumulate(1 / rank for rank in range(1, VOCABULARY + 1)))
    return lambda count: rng.choices(vocabulary, cum_weights=weights, k=count)


def made_up_word(rng: random.Random) -> str:
    syllables = ["ka", "lo", "mi", "ren", "to", "su", "vel", "dra", "po", "ni", "sha", "tor", "ul", "bex"]
    return "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))


def text(rng: random.Random, words, length: int) -> str:
    chosen = words(length)
    for word, rate in PLANTED.items():
        if rng.random() < rate:
            chosen.insert(rng.randrange(len(chosen) + 1), word)
    if "saffron" in chosen and rng.random() < 0.3:
        chosen.insert(chosen.index("saffron") + 1, "lighthouse")
    return " ".join(chosen)


def fill(owner, stranger, messages: int, seed: int) -> None:
    """`messages` for the owner and a quarter as many for a stranger, in chats of MESSAGES_PER_CHAT."""
    from django.db import transaction

    from conversations.models import Conversation, Message

    rng = random.Random(seed)
    words = words_source(rng)
    for user, count in ((owner, messages), (stranger, messages // 4)):
        for start in range(0, count, BATCH):
            batch = min(BATCH, count - start)
            chats, rows = [], []
            for first in range(0, batch, MESSAGES_PER_CHAT):
                title = " ".join(words(3)) + (" voyage" if rng.random() < 0.05 else "")
                chat = Conversation(owner=user, title=title)
                chats.append(chat)
                parent = None
                for position in range(min(MESSAGES_PER_CHAT, batch - first)):
                    role = "user" if position % 2 == 0 else "assistant"
                    length = rng.randint(8, 40) if role == "user" else rng.randint(40, 160)
                    parent = Message(
                        conversation=chat, parent=parent, position=position, role=role, content=text(rng, words, length)
                    )
                    rows.append(parent)
            with transaction.atomic():
                Conversation.objects.bulk_create(chats)
                Message.objects.bulk_create(rows)


def timed(call, rounds: int) -> tuple[list[float], object]:
    call()  # warm: connection, plans, caches
    samples, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples, result


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 2), "p95": round(p95, 2)}


def measure(owner, args: argparse.Namespace) -> dict:
    from django.test import Client

    from conversations.search import selectors

    client = Client(HTTP_HOST="localhost")  # an allowed host in development settings
    client.force_login(owner)
    engines = {selectors.engine(): args.rounds, selectors.SUBSTRING: args.baseline_rounds}
    results: dict = {"engines": {}, "api": {}}
    for engine, rounds in engines.items():
        everything = []
        per_query = {}
        for query in QUERIES:
            samples, hits = timed(
                lambda query=query, engine=engine: selectors.search_hits(
                    user=owner, text=query, limit=20, engine_name=engine
                ),
                rounds,
            )
            everything += samples
            per_query[query] = {**percentiles(samples), "hits": len(hits)}
        results["engines"][engine] = {"overall": percentiles(everything), "queries": per_query}
    everything = []
    for query in QUERIES:

        def get(query=query):
            response = client.get("/api/search/", {"q": query})
            assert response.status_code == 200, response.content
            return response

        samples, _ = timed(get, args.rounds)
        everything += samples
        results["api"][query] = percentiles(samples)
    results["api"]["overall"] = percentiles(everything)
    return results


def show(results: dict, args: argparse.Namespace, fill_seconds: float) -> None:
    print(f"search bench: {args.messages:,} messages (+{args.messages // 4:,} a stranger's) on {args.db}")
    print(f"filled in {fill_seconds:.1f} s")
    engines = list(results["engines"])
    header = "query".ljust(24) + "".join(f"{engine + ' p50/p95 ms (hits)':>34}" for engine in engines)
    print(header + f"{'API p50/p95 ms':>20}")
    for query in QUERIES:
        cells = []
        for engine in engines:
            row = results["engines"][engine]["queries"][query]
            cells.append(f"{row['p50']:>9.2f} / {row['p95']:>8.2f} ({row['hits']:>2})".rjust(34))
        api = results["api"][query]
        print(query.ljust(24) + "".join(cells) + f"{api['p50']:>9.2f} / {api['p95']:>7.2f}")
    for engine in engines:
        overall = results["engines"][engine]["overall"]
        print(f"overall {engine}: p50 {overall['p50']:.2f} ms, p95 {overall['p95']:.2f} ms")
    api = results["api"]["overall"]
    print(f"overall GET /api/search/: p50 {api['p50']:.2f} ms, p95 {api['p95']:.2f} ms")
    fast, baseline = (results["engines"][engine]["overall"]["p95"] for engine in engines)
    print(f"p95 {engines[0]} vs {engines[1]} baseline: {baseline / fast:.1f}x faster")


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    with tempfile.TemporaryDirectory() as workdir, throwaway(args.db, Path(workdir), "_search", args.admin_url) as url:
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
        os.environ["PARLEY_SEARCH_RATE"] = "1000000/s"  # the bench measures search, not the limiter
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        owner = get_user_model().objects.create_user("searcher")
        stranger = get_user_model().objects.create_user("stranger")
        started = time.perf_counter()
        fill(owner, stranger, args.messages, args.seed)
        fill_seconds = time.perf_counter() - started
        with connection.cursor() as cursor:  # the steady state autovacuum keeps: statistics, GIN pending list merged
            cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
        results = measure(owner, args)
        connection.close()
    show(results, args, fill_seconds)
    if args.json:
        args.json.write_text(json.dumps({"messages": args.messages, "db": args.db, **results}, indent=2))


if __name__ == "__main__":
    sys.exit(main())
