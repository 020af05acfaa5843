"""Daphne's server with a lighter per-connection application queue.

Daphne gives every connection an `asyncio.Queue` for the messages it passes to the ASGI
application; a Queue holds four deques and an Event from birth, about 3 KB that an idle socket
never uses. `create_application` below is daphne 4.2.3's, with the Queue replaced by the same
two-slot `Inbox` the channel layer uses (docs/performance.md, idle capacity).
"""

from __future__ import annotations

import asyncio
from functools import partial

from daphne.server import Server

from conversations.realtime.inbox import Inbox


class LightServer(Server):
    def create_application(self, protocol, scope):
        assert "application_instance" not in self.connections[protocol]
        input_queue = Inbox()
        scope.setdefault("asgi", {"version": "3.0"})
        application_instance = self.application(
            scope=scope, receive=input_queue.get, send=partial(self.handle_reply, protocol)
        )
        if protocol not in self.connections:
            return None
        self.connections[protocol]["application_instance"] = asyncio.ensure_future(
            application_instance, loop=asyncio.get_event_loop()
        )
        return input_queue
