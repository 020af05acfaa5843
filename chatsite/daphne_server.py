"""Daphne's server with a lighter per-connection queue, a reaper that skips live connections, and
TCP connections that send frames directly (chatsite/direct_write.py).

Daphne gives every connection an `asyncio.Queue` for the messages it passes to the ASGI
application; a Queue holds four deques and an Event from birth, about 3 KB that an idle socket
never uses. `create_application` below is daphne 4.2.3's, with the Queue replaced by the same
two-slot `Inbox` the channel layer uses (docs/performance.md, idle capacity), and with the done
callback that `ConnectionReaper` (chatsite/reaper.py) relies on.
"""

from __future__ import annotations

import asyncio
from functools import partial

from daphne.server import Server
from twisted.internet import reactor, tcp

from conversations.realtime.inbox import Inbox

from .direct_write import DirectWriteConnection
from .reaper import ConnectionReaper


class LightServer(ConnectionReaper, Server):
    def create_application(self, protocol, scope):
        assert "application_instance" not in self.connections[protocol]
        input_queue = Inbox()
        scope.setdefault("asgi", {"version": "3.0"})
        application_instance = self.application(
            scope=scope, receive=input_queue.get, send=partial(self.handle_reply, protocol)
        )
        if protocol not in self.connections:
            return None
        instance = asyncio.ensure_future(application_instance, loop=asyncio.get_event_loop())
        instance.add_done_callback(partial(self.mark_reapable, protocol))
        self.connections[protocol]["application_instance"] = instance
        return input_queue

    def check_again_later(self) -> None:
        reactor.callLater(1, self.application_checker)

    def listen_success(self, port):
        if isinstance(port, tcp.Port):
            port.transport = DirectWriteConnection  # the class Twisted builds accepted connections from
        super().listen_success(port)
