"""This process's worker per event loop, and what starts and stops it with the server."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import anyio
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from redis import asyncio as aioredis

from chatsite import compat

from .. import metrics
from ..catalog.environment import ensure_catalog
from ..catalog.loader import load_models_file
from ..llm.client import close_http_clients, get_http_client
from ..llm.providers.simulator import stop_in_process_simulator
from ..realtime import local
from ..realtime.broadcast import Broadcaster
from ..tools.processes import close_tool_processes
from ..tools.runner import close_tool_threads
from .config import provider_config
from .worker import Worker, close_start_thread, open_start_thread

logger = logging.getLogger(__name__)


_workers: dict[asyncio.AbstractEventLoop, Worker] = {}
metrics.RUNNING_REPLIES.set_function(lambda: sum(len(worker.running) for worker in list(_workers.values())))


async def get_worker() -> Worker:
    """This event loop's worker, started on first use."""
    loop = asyncio.get_running_loop()
    if loop not in _workers:
        layer = get_channel_layer()
        channel = await layer.new_channel("parley.worker.")
        if loop not in _workers:  # another caller may have won the race while we awaited
            _workers[loop] = Worker(layer, new_broadcaster(layer), channel)
            _workers[loop].start()
    return _workers[loop]


def new_broadcaster(layer: Any) -> Broadcaster:
    """With Redis, the broadcaster writes resume state on a connection of its own, and sends a
    whole flush in one script call where chatsite/compat.py has verified the layer's channel naming."""
    if not settings.REDIS_URL:
        return Broadcaster(layer, settings.PARLEY_FLUSH_INTERVAL)
    redis = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    route = compat.group_channel_namer(layer)
    return Broadcaster(layer, settings.PARLEY_FLUSH_INTERVAL, redis, redis_channel=route, local=local.sockets)


async def warm_up() -> None:
    """Start this process's worker now, so its first sweep recovers replies orphaned by a crash
    even if no socket ever connects, and build the provider, its HTTP client and the start thread's
    database connection before the first reply.

    httpcore's pools make their locks and events with anyio, whose asyncio backend is imported on
    first use: an import that would otherwise land on the first replies' first tokens."""
    await (await get_worker()).broadcaster.prepare()
    await database_sync_to_async(load_catalog)()
    config = provider_config()
    get_http_client(config.limits, config.network)
    anyio.Event()
    await open_start_thread()


def load_catalog() -> None:
    """At start-up: load PARLEY_MODELS_FILE if set, else make sure the catalog is not empty."""
    if settings.PARLEY_MODELS_FILE:
        report = load_models_file(settings.PARLEY_MODELS_FILE)
        logger.info("Loaded %s: %s", settings.PARLEY_MODELS_FILE, report)
    ensure_catalog()


async def shut_down(*, interrupted: bool = False) -> None:
    """Stop this loop's worker (running replies keep their text), then release upstream connections."""
    worker = _workers.pop(asyncio.get_running_loop(), None)
    if worker is not None:
        await worker.shutdown(interrupted=interrupted)
    await close_http_clients()
    await stop_in_process_simulator()
    await asyncio.to_thread(close_tool_threads)
    await asyncio.to_thread(close_tool_processes)
    await asyncio.to_thread(close_start_thread)
