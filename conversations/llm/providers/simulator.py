"""The built-in simulator, reached through the real httpx + Chat Completions path.

With no base URL configured, the simulator server is started inside the running event loop on an
ephemeral loopback port at first use (once per loop), so a laptop needs no API key and no second
process, yet every reply exercises the same code as a real vendor.
"""

from __future__ import annotations

import asyncio
import weakref

from ..config import SimulatorDefaults
from ..formats.chat_completions import ChatCompletions
from ..simulator import SimulatorServer, start_simulator
from ..simulator.script import MODEL_NAME
from ..streaming import StreamingProvider

_servers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[SimulatorServer]] = (
    weakref.WeakKeyDictionary()
)


class SimulatorProvider(StreamingProvider):
    name = "simulator"
    wire = ChatCompletions()
    default_base_url = ""
    default_model = MODEL_NAME

    async def base_url(self) -> str:
        if self.config.base_url:
            return self.config.base_url
        server = await in_process_simulator(self.config.simulator)
        return f"http://127.0.0.1:{server.port}/v1"


async def in_process_simulator(defaults: SimulatorDefaults) -> SimulatorServer:
    """The running loop's simulator server, started on first call; concurrent callers share one start."""
    loop = asyncio.get_running_loop()
    task = _servers.get(loop)
    if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
        task = _servers[loop] = loop.create_task(start_simulator("127.0.0.1", 0, defaults=defaults))
    return await asyncio.shield(task)


async def stop_in_process_simulator() -> None:
    """Close the running loop's in-process simulator, if one was started (for shutdown and tests)."""
    task = _servers.pop(asyncio.get_running_loop(), None)
    if task is not None:
        (await task).close()
