"""One measured step: an active load at N conversations, or N idle connections, against one server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import uvloop

from .client import Tally, close_all, open_all, percentiles, run_conversations
from .impls import Server, World, start
from .procs import RedisCpu, Tree, Usage, core_busy, self_cpu

BOTTLENECK = 0.9  # share of one core above which a process is flagged as the limit
NOISY = 0.2  # cores of CPU used by processes outside the step; above this the step is flagged
MB = 1024 * 1024


@dataclass(frozen=True)
class Workload:
    tokens: int = 200  # L: tokens per reply
    tps: float = 50.0  # T: tokens per second per reply
    ttft: float = 0.2  # seconds before the first token
    ramp: float = 1.0  # sends are spread evenly over this many seconds
    slack: float = 30.0  # seconds past the ideal reply time before a conversation times out
    connect_timeout: float = 60.0  # per connection, handshake plus snapshot
    connect_concurrency: int = 200  # handshakes in flight at once

    def content(self) -> str:
        return f"!sim stamp=1 tokens={self.tokens} tps={self.tps:g} ttft={self.ttft:g}"

    def reply_timeout(self) -> float:
        return self.ramp + self.ttft + self.tokens / self.tps + self.slack


@dataclass
class Meters:
    """Everything outside the server that a step also measures."""

    simulator: Tree
    redis: RedisCpu


def total(trees: list[Tree]) -> Usage:
    usages = [t.usage() for t in trees]
    return Usage(
        sum(u.cpu for u in usages),
        sum(u.rss for u in usages),
        sum(u.vms for u in usages),
        sum(u.threads for u in usages),
    )


class Peaks:
    """Samples the server tree four times a second and keeps the peaks."""

    def __init__(self, trees: list[Tree]) -> None:
        self.trees = trees
        self.rss = self.vms = self.threads = 0
        self.task: asyncio.Task | None = None

    def sample(self) -> None:
        usage = total(self.trees)
        self.rss, self.vms = max(self.rss, usage.rss), max(self.vms, usage.vms)
        self.threads = max(self.threads, usage.threads)

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.25)

    def __enter__(self) -> Peaks:
        self.task = asyncio.get_running_loop().create_task(self.run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        self.sample()


def run(coro_factory: Callable[[], object]) -> dict:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro_factory())  # type: ignore[arg-type]


def active(impl: str, world: World, n: int, work: Workload, meters: Meters, processes: int = 1) -> dict:
    """Start the server, connect n conversations, run one reply each, measure, stop the server."""
    server = start(impl, world, n, processes)
    try:
        row = run(lambda: measure_active(server, n, work, meters))
    finally:
        server.stop()
    return {"impl": impl, "n": n, "processes": processes, **row}


async def measure_active(server: Server, n: int, work: Workload, meters: Meters) -> dict:
    trees = server.trees
    idle = total(trees)
    tally = Tally()
    started = time.monotonic()
    conns = await open_all(server.targets(n), tally, concurrency=work.connect_concurrency, timeout=work.connect_timeout)
    connect_s = time.monotonic() - started
    busy_before = core_busy()
    before = (total(trees).cpu, self_cpu(), meters.simulator.usage().cpu, meters.redis.seconds(), time.monotonic())
    with Peaks(trees) as peaks:
        latencies = await run_conversations(
            conns, work.content(), work.tokens, tally, ramp=work.ramp, ttft=work.ttft, timeout=work.reply_timeout()
        )
    after = (total(trees).cpu, self_cpu(), meters.simulator.usage().cpu, meters.redis.seconds(), time.monotonic())
    busy = [b - a for a, b in zip(busy_before, core_busy(), strict=True)]
    await close_all(conns)
    wall = after[4] - before[4]
    server_cpu, harness_cpu, sim_cpu = (after[i] - before[i] for i in range(3))
    redis_cpu = after[3] - before[3] if None not in (after[3], before[3]) else None
    delivered = tally.tokens_delivered
    opened = sum(ws is not None for ws in conns)
    row = {
        "ok": not tally.failed,
        **tally.as_dict(),
        **{f"latency_{k}_ms": v for k, v in percentiles(latencies.tokens).items()},
        **{f"first_token_{k}_ms": v for k, v in percentiles(latencies.first_token).items()},
        "starts_per_s": latencies.starts_per_s(),
        "wall_s": wall,
        "connect_s": connect_s,
        "tokens_per_s": delivered / wall if wall else 0.0,
        "server_cpu_s": server_cpu,
        "server_util": server_cpu / wall / len(trees),
        "cpu_per_1k_tokens": server_cpu / delivered * 1000 if delivered else None,
        "rss_idle_mb": idle.rss / MB,
        "rss_peak_mb": peaks.rss / MB,
        "rss_per_conn_kb": (peaks.rss - idle.rss) / opened / 1024 if opened else None,
        "vms_peak_mb": peaks.vms / MB,
        "threads_peak": peaks.threads,
        "harness_cpu_s": harness_cpu,
        "harness_util": harness_cpu / wall,
        "simulator_cpu_s": sim_cpu,
        "simulator_util": sim_cpu / wall,
        "redis_cpu_s": redis_cpu,
        "core_busy": [b / wall for b in busy],
        # CPU used on the machine by anything this step did not start or measure (other users, PostgreSQL).
        "foreign_cores": (sum(busy) - server_cpu - harness_cpu - sim_cpu - (redis_cpu or 0)) / wall,
    }
    row["bottlenecks"] = bottlenecks(row)
    return row


def bottlenecks(row: dict) -> list[str]:
    """Which measured process ran out of CPU; harness and simulator share one core."""
    flags = []
    if row["harness_util"] > BOTTLENECK:
        flags.append("harness")
    if row["simulator_util"] > BOTTLENECK:
        flags.append("simulator")
    if row["harness_util"] + row["simulator_util"] > BOTTLENECK and not flags:
        flags.append("harness core")
    if row["server_util"] > BOTTLENECK:
        flags.append("server")
    if row["foreign_cores"] > NOISY:
        flags.append(f"noisy ({row['foreign_cores']:.2f} cores foreign)")
    return flags


def idle(impl: str, world: World, n: int, work: Workload) -> dict:
    """Connect n conversations that never send; memory per connection and time to connect."""
    server = start(impl, world, n)
    try:
        row = run(lambda: measure_idle(server, n, work))
    finally:
        server.stop()
    return {"impl": impl, "n": n, **row}


async def measure_idle(server: Server, n: int, work: Workload) -> dict:
    """RSS per connection is marginal: one warm-up socket first pays the one-time costs
    (lazy imports, the runtime, Redis and database connections), which are not per socket."""
    trees = server.trees
    cold = total(trees)
    tally = Tally()
    targets = server.targets(n)
    warm_up = await open_all(targets[:1], tally, timeout=work.connect_timeout)
    await asyncio.sleep(1.0)
    before = total(trees)
    started = time.monotonic()
    conns = await open_all(targets, tally, timeout=work.connect_timeout)
    connect_s = time.monotonic() - started
    await asyncio.sleep(1.0)
    after = total(trees)
    await close_all(conns + warm_up)
    opened = sum(ws is not None for ws in conns)
    return {
        "ok": tally.connect_errors == 0,
        "connected": opened,
        "connect_errors": tally.connect_errors,
        "error_samples": tally.error_samples,
        "connect_s": connect_s,
        "rss_cold_mb": cold.rss / MB,
        "rss_before_mb": before.rss / MB,
        "rss_after_mb": after.rss / MB,
        "rss_per_conn_kb": (after.rss - before.rss) / opened / 1024 if opened else None,
        "vms_after_mb": after.vms / MB,
        "threads": after.threads,
    }
