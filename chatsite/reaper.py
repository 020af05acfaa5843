"""Reaping finished ASGI applications for daphne, visiting only connections that can need it.

Daphne's `application_checker` walks every connection once a second, to reap finished
applications and to cancel those that outlive their client. At 1,000 sockets that walk was 3% of
the server's CPU, spent in one burst every second (docs/performance.md). A connection needs it
only once its application has finished or its client has gone, so those two events put it on a
short list, and the checker visits only that list. The rules are daphne 4.2.3's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import CancelledError

logger = logging.getLogger("daphne.server")


class ConnectionReaper:
    """A mixin for daphne's Server: `connections`, `application_close_timeout` and `stop` are its."""

    connections: dict
    application_close_timeout: float

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.reapable: set = set()  # connections whose application finished or whose client left

    def protocol_disconnected(self, protocol) -> None:
        super().protocol_disconnected(protocol)
        self.reapable.add(protocol)

    def mark_reapable(self, protocol, _instance: asyncio.Future) -> None:
        """The done callback of every application instance."""
        self.reapable.add(protocol)

    def application_checker(self) -> None:
        candidates, self.reapable = self.reapable, set()
        for protocol in candidates:
            details = self.connections.get(protocol)
            if details is not None:
                self.reap(protocol, details)
        self.check_again_later()

    def check_again_later(self) -> None:
        raise NotImplementedError

    def reap(self, protocol, details: dict) -> None:
        disconnected = details.get("disconnected")
        instance = details.get("application_instance")
        if instance is not None and not instance.done():
            if time.time() - disconnected > self.application_close_timeout:
                logger.warning(
                    "Application instance %r for connection %s took too long to shut down and was killed.",
                    instance,
                    repr(protocol),
                )
                instance.cancel()  # its done callback lists the connection again
            else:
                self.reapable.add(protocol)  # its client left: look again until it finishes
            return
        if instance is not None:
            self.report(protocol, instance, disconnected)
            del details["application_instance"]
        if disconnected:
            del self.connections[protocol]

    def report(self, protocol, instance: asyncio.Future, disconnected: float | None) -> None:
        try:
            exception = instance.exception()
        except (CancelledError, asyncio.CancelledError):
            return
        if isinstance(exception, KeyboardInterrupt):
            self.stop()  # the protocol asks the server to exit (likely during a test)
        elif exception:
            logger.error("Exception inside application: %s", exception, exc_info=exception)
            if not disconnected:
                protocol.handle_exception(exception)
