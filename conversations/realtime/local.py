"""This process's sockets by conversation group, so frames reach them when Redis cannot, and a
reply's first text reaches them without waiting for Redis.

Redis carries every frame between processes. When a publish fails, the broadcaster hands the batch
to `deliver` instead: the sockets of this process, the sender's among them (a reply runs in the
process that received its send), still get every frame of the reply, and each socket is told
that live sync with other tabs and devices is degraded until Redis answers again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

logger = logging.getLogger(__name__)

PROBE_INTERVAL = 2.0  # seconds between checks of whether Redis answers again, while degraded


class LocalSocket(Protocol):
    async def relay(self, message: dict[str, Any]) -> None: ...

    async def first_text(self, message: dict[str, Any]) -> None: ...

    async def live_sync_changed(self, degraded: bool) -> None: ...


class LocalSockets:
    def __init__(self) -> None:
        self.groups: dict[str, set[LocalSocket]] = {}
        self.degraded = False  # a publish failed and Redis has not answered since

    def add(self, group: str, socket: LocalSocket) -> None:
        self.groups.setdefault(group, set()).add(socket)

    def discard(self, group: str, socket: LocalSocket) -> None:
        members = self.groups.get(group)
        if members is not None:
            members.discard(socket)
            if not members:
                del self.groups[group]

    async def deliver(self, group: str, message: dict[str, Any]) -> None:
        """Hand one channel-layer message to this process's sockets on `group`."""
        for socket in list(self.groups.get(group, ())):
            await self._call(socket.relay, message)

    async def hand_over(self, group: str, message: dict[str, Any]) -> None:
        """Hand a reply's first text to this process's sockets on `group` ahead of its copy through
        Redis (realtime/broadcast.py); a socket takes it only if it already follows the reply."""
        for socket in list(self.groups.get(group, ())):
            await self._call(socket.first_text, message)

    @staticmethod
    async def _call(handler: Callable[[dict[str, Any]], Awaitable[None]], message: dict[str, Any]) -> None:
        try:
            await handler(message)
        except Exception:  # one closing socket must not cost the others their frames
            logger.debug("Local delivery to a closing socket failed", exc_info=True)

    async def set_degraded(self, degraded: bool) -> None:
        """Tell every local socket when live sync goes down or comes back (once per change)."""
        if degraded == self.degraded:
            return
        self.degraded = degraded
        logger.warning("Live sync is %s", "degraded: Redis is unreachable" if degraded else "back")
        for socket in {socket for members in self.groups.values() for socket in members}:
            try:
                await socket.live_sync_changed(degraded)
            except Exception:
                logger.debug("Telling a closing socket about live sync failed", exc_info=True)

    async def watch(self, ping: Callable[[], Awaitable[Any]], interval: float = PROBE_INTERVAL) -> None:
        """While degraded, ask Redis every `interval` seconds; lift the degraded state once it answers,
        so sockets hear it even when no reply is being published."""
        while True:
            await asyncio.sleep(interval)
            if not self.degraded:
                continue
            try:
                await ping()
            except Exception:
                continue
            await self.set_degraded(False)


sockets = LocalSockets()  # this process's, shared by its consumers and its broadcaster
