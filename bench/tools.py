"""A sync ORM tool beside streaming replies: python -m bench.tools [--streams 200] [--db postgres]
[--tool-runner threads|processes].

One Parley process (pinned to one core, the simulator on another) streams `--streams` replies
twice: a baseline phase, then the same load with one more reply calling a sync ORM tool over and
over (a real query on the app's models: an aggregate over the user's conversations, then a few
thousand messages materialised), on the tool threads or, with `--tool-runner processes`, in a
worker process (`:process`: on the same core, at PARLEY_TOOL_PROCESS_NICE). The runtime starts as
`python -m chatsite.server` starts it (switch interval, start-up objects frozen for the garbage
collector). Every token carries the time the simulator sent it (`!sim stamp=1`); its latency is
taken when the frame carrying it comes out of the channel layer. Prints p50/p99/max of both
phases, the p99 the tool added, how many tool calls ran and how long each took, and the machine's
load. docs/performance.md records the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from chatsite.server import GIL_SWITCH_INTERVAL, start_runtime
from conversations.tools.schema import ToolContext

from .database import DEFAULT_ADMIN_URL, throwaway
from .procs import free_port, launch, pin_self, stop, wait_port

APP_CORE, SIMULATOR_CORE = 0, 1
TOOL = "bench.tools.busiest_conversations"


def busiest_conversations(context: ToolContext, limit: int = 10) -> list[dict]:
    """The user's conversations with the most messages, and how many words their messages hold
    (and how long the call took, which the bench reads from the result wherever the tool ran).

    Args:
        limit: How many conversations to list.
    """
    from django.db.models import Count, Sum
    from django.db.models.functions import Length

    from conversations.models import Conversation, Message

    started = time.perf_counter()
    busiest = (
        Conversation.objects.filter(owner_id=context.user_id)
        .annotate(messages_count=Count("messages"), characters=Sum(Length("messages__content")))
        .order_by("-messages_count", "-characters")[:limit]
    )
    rows = [{"title": c.title, "messages": c.messages_count, "characters": c.characters} for c in busiest]
    recent = Message.objects.filter(conversation__owner_id=context.user_id).order_by("-created_at")[:3000]
    words = sum(len(message.content.split()) for message in recent)  # model instances, as a view would use
    return [*rows, {"recent_words": words, "seconds": time.perf_counter() - started}]


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--streams", type=int, default=200, help="replies streaming in each phase")
    p.add_argument("--tokens", type=int, default=100, help="tokens per reply")
    p.add_argument("--tps", type=float, default=10, help="tokens per second per reply")
    p.add_argument("--conversations", type=int, default=1000, help="conversations the tool's user has")
    p.add_argument("--messages-per-conversation", type=int, default=10)
    p.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    p.add_argument("--tool-runner", choices=("threads", "processes"), default="threads", help="where the tool runs")
    p.add_argument("--admin-url", default=os.environ.get("BENCH_ADMIN_URL", DEFAULT_ADMIN_URL))
    p.add_argument("--json", type=Path, help="also write the results here")
    return p.parse_args(argv)


def seed(owner, conversations: int, per_conversation: int) -> None:
    """The tool's data: the user's conversations, each with a chain of messages of a few dozen words."""
    from django.db import transaction

    from conversations.models import Conversation, Message

    words = [
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "a",
        "lazy",
        "dog",
        "while",
        "parley",
        "streams",
        "every",
        "token",
    ]
    chats = [Conversation(owner=owner, title=f"Chat {n}") for n in range(conversations)]
    rows = [
        Message(
            conversation=chat,
            position=position,
            role="user" if position % 2 == 0 else "assistant",
            content=" ".join(words[(n + position + i) % len(words)] for i in range(20 + (n * position) % 40)),
        )
        for n, chat in enumerate(chats)
        for position in range(per_conversation)
    ]
    with transaction.atomic():
        Conversation.objects.bulk_create(chats, batch_size=2000)
        Message.objects.bulk_create(rows, batch_size=2000)


def latencies_of(frame: str, received_ns: int, into: list[float]) -> None:
    """Milliseconds from each stamped token's sending (`<index>:<ns> `) to now."""
    for token in json.loads(frame)["delta"].split():
        _, _, sent_ns = token.partition(":")
        into.append((received_ns - int(sent_ns)) / 1e6)


async def follow(layer, channel: str, reply_ids: set[str], into: list[float]) -> None:
    """Read one conversation's frames until its reply is done, timing every token on arrival."""
    while reply_ids:
        message = await layer.receive(channel)
        if message["type"] == "chat.delta":
            latencies_of(message["frame"], time.time_ns(), into)
        elif message.get("done") in reply_ids:
            reply_ids.discard(message["done"])


async def phase(owner, streams: int, args: argparse.Namespace, *, with_tool: bool) -> dict:
    """One phase: `streams` stamped replies, and with `with_tool` one more reply calling the tool
    until they are all done; the token latencies and the tool calls of the phase."""
    from channels.layers import get_channel_layer

    from conversations import generation
    from conversations.models import Conversation
    from conversations.realtime.broadcast import conversation_group

    layer = get_channel_layer()
    content = f"!sim stamp=1 tokens={args.tokens} tps={args.tps} ttft=0\nGo"
    chats = [await Conversation.objects.acreate(owner=owner, title="stream") for _ in range(streams)]
    latencies: list[float] = []
    followers = []
    for chat in chats:
        channel = await layer.new_channel("bench.")
        await layer.group_add(conversation_group(chat.id), channel)
        followers.append((chat, channel))
    tool_chat = await Conversation.objects.acreate(owner=owner, title="tool") if with_tool else None
    started = time.perf_counter()
    if tool_chat is not None:
        ask = "!sim tool=busiest_conversations:{} tool_steps=100000 tps=0 ttft=0\nWhich chats are busiest?"
        tool_reply = await generation.start(user=owner, conversation_id=tool_chat.id, content=ask, request_id="tool")
    tasks = []
    for chat, channel in followers:
        started_reply = await generation.start(user=owner, conversation_id=chat.id, content=content, request_id="s")
        tasks.append(asyncio.ensure_future(follow(layer, channel, {str(started_reply.reply.id)}, latencies)))
    lags: list[float] = []
    probe = asyncio.ensure_future(loop_lag(lags))
    await asyncio.gather(*tasks)
    probe.cancel()
    seconds = time.perf_counter() - started
    durations = []
    if tool_chat is not None:
        await generation.stop(user=owner, conversation_id=tool_chat.id)
        durations = await call_durations(str(tool_reply.reply.id))
    return {"latencies": latencies, "seconds": seconds, "tool_calls": durations, "loop_lag": lags}


async def warm_tool_processes() -> None:
    """Start the tool workers before measuring, as a server's are after its first tool calls: a
    spawned worker sets Django up on its first call, which can take longer than a short phase."""
    from django.conf import settings

    from conversations.tools.processes import in_worker

    await asyncio.gather(*(in_worker("os.getpid", {}, 60) for _ in range(settings.PARLEY_TOOL_PROCESSES)))


async def call_durations(reply_id: str) -> list[float]:
    """Once the stopped tool reply is saved, how long each of its calls took (seconds), from their results."""
    from conversations.generation import get_worker
    from conversations.models import Message

    running = (await get_worker()).running.get(reply_id)
    if running is not None:
        await asyncio.gather(running.task, return_exceptions=True)
    reply = await Message.objects.aget(id=reply_id)
    results = [part for part in reply.parts if part["type"] == "tool_result" and not part["is_error"]]
    return [json.loads(part["content"])[-1]["seconds"] for part in results]


async def loop_lag(into: list[float], every: float = 0.01) -> None:
    """How late the event loop wakes a task that sleeps `every` seconds, in milliseconds: how long
    the loop was kept from running (by the tool's thread holding the GIL, or the machine's load)."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(every)
        into.append((time.perf_counter() - started - every) * 1000)


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "tokens": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))], 2),
        "max_ms": round(ordered[-1], 2),
    }


async def measure(args: argparse.Namespace) -> dict:
    from asgiref.sync import sync_to_async
    from django.contrib.auth import get_user_model

    from conversations.generation import shut_down

    owner = await sync_to_async(get_user_model().objects.get)(username="bench")
    await start_runtime()  # as `python -m chatsite.server` starts: the worker, then start-up objects frozen for the GC
    try:
        if args.tool_runner == "processes":
            await warm_tool_processes()
        baseline = await phase(owner, args.streams, args, with_tool=False)
        with_tool = await phase(owner, args.streams, args, with_tool=True)
    finally:
        await shut_down()
    results = {"baseline": summary(baseline["latencies"]), "with_tool": summary(with_tool["latencies"])}
    for name, run in (("baseline", baseline), ("with_tool", with_tool)):
        lag = summary(run["loop_lag"]) if run["loop_lag"] else {"p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
        results[name]["loop_lag"] = {key: lag[key] for key in ("p50_ms", "p99_ms", "max_ms")}
    calls = with_tool["tool_calls"]
    results["tool"] = {
        "calls": len(calls),
        "call_p50_ms": round(statistics.median(calls) * 1000, 2) if calls else None,
        "busy_share": round(sum(calls) / with_tool["seconds"], 3),
    }
    results["added_p99_ms"] = round(results["with_tool"]["p99_ms"] - results["baseline"]["p99_ms"], 2)
    results["expected_tokens"] = args.streams * args.tokens
    return results


def show(results: dict, args: argparse.Namespace, load: tuple[float, ...]) -> None:
    print(
        f"tools bench: {args.streams} streams x {args.tokens} tokens at {args.tps:g} tokens/s on {args.db}, "
        f"the tool on {args.tool_runner}"
    )
    for name in ("baseline", "with_tool"):
        row = results[name]
        lag = row["loop_lag"]
        print(
            f"{name:>9}: {row['tokens']} tokens, latency p50 {row['p50_ms']:.2f} ms, "
            f"p99 {row['p99_ms']:.2f} ms, max {row['max_ms']:.2f} ms; "
            f"event loop lag p99 {lag['p99_ms']:.2f} ms, max {lag['max_ms']:.2f} ms"
        )
    tool = results["tool"]
    print(
        f"tool: {tool['calls']} calls of {TOOL}, p50 {tool['call_p50_ms']} ms each, "
        f"running {tool['busy_share']:.0%} of the phase"
    )
    print(f"p99 added by the tool: {results['added_p99_ms']:+.2f} ms")
    print(f"load average before/after: {load[0]:.2f} / {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as workdir, throwaway(args.db, Path(workdir), "_tools", args.admin_url) as url:
        port = free_port()
        simulator = launch(
            [sys.executable, "-m", "conversations.llm.simulator", "--port", str(port)],
            core=SIMULATOR_CORE,
            env={},
            log=Path(workdir) / "simulator.log",
        )
        try:
            wait_port(port, simulator)
            configure(url, port, args)
            results = asyncio.run(measure(args))
        finally:
            stop(simulator)
    show(results, args, load)
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, **results}, indent=2))


def configure(url: str, simulator_port: int, args: argparse.Namespace) -> None:
    """Settings for one process streaming through the in-memory layer from the external simulator."""
    pin_self(APP_CORE)
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)  # as `python -m chatsite.server` runs
    os.environ.pop("REDIS_URL", None)
    os.environ.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="chatsite.settings",
        LLM_PROVIDER="simulator",
        LLM_BASE_URL=f"http://127.0.0.1:{simulator_port}/v1",
        PARLEY_TOOLS=TOOL + (":process" if args.tool_runner == "processes" else ""),
        PARLEY_TOOL_MAX_STEPS="100000",
        PARLEY_MAX_GENERATIONS_PER_USER=str(args.streams * 2 + 10),
        PARLEY_LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    owner = get_user_model().objects.create_user("bench")
    seed(owner, args.conversations, args.messages_per_conversation)


if __name__ == "__main__":
    sys.exit(main())
