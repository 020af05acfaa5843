"""The faults a soak injects, in turn, every few minutes: PostgreSQL blinking and going away for a
while, and a Parley process killed or restarted. The first process is never a victim, so its memory
can be compared from start to end."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable

from .cluster import Cluster

SHORT_OUTAGE = 2.0  # seconds
LONG_OUTAGE = 15.0


async def postgres_blink(cluster: Cluster) -> None:
    await postgres_outage(cluster, SHORT_OUTAGE)


async def postgres_away(cluster: Cluster) -> None:
    await postgres_outage(cluster, LONG_OUTAGE)


async def postgres_outage(cluster: Cluster, seconds: float) -> None:
    await asyncio.to_thread(cluster.postgres.stop)
    try:
        await asyncio.sleep(seconds)
    finally:
        await asyncio.to_thread(cluster.postgres.start)


async def process_kill(cluster: Cluster) -> None:
    await restart(cluster, signal.SIGKILL)


async def process_restart(cluster: Cluster) -> None:
    await restart(cluster, signal.SIGTERM)


async def restart(cluster: Cluster, sig: int) -> None:
    victim = cluster.processes[-1]
    await asyncio.to_thread(victim.stop, sig)
    await asyncio.to_thread(victim.start)


ROTATION: tuple[Callable[[Cluster], Awaitable[None]], ...] = (
    postgres_blink,
    process_kill,
    postgres_away,
    process_restart,
)


BY_NAME = {fault.__name__: fault for fault in ROTATION}


async def inject_every(
    cluster: Cluster, every: float, until: float, log: list[dict], rotation: tuple[str, ...] = tuple(BY_NAME)
) -> None:
    """Inject the next fault of the rotation every `every` seconds until `until` (loop time)."""
    loop = asyncio.get_running_loop()
    for turn in range(10**9):
        if loop.time() + every >= until:
            return
        await asyncio.sleep(every)
        fault = BY_NAME[rotation[turn % len(rotation)]]
        started = time.monotonic()
        await fault(cluster)
        log.append({"fault": fault.__name__, "seconds": round(time.monotonic() - started, 1)})
