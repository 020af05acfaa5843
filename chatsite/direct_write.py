"""Twisted's accepted TCP connection, sending at once when nothing is already queued.

Twisted queues every write and asks the event loop to report the socket writable, then sends on
that event. Under uvloop that starts and stops a poll handle for every WebSocket frame: 15% of
the server's CPU while streaming at N=300 (docs/performance.md). Like asyncio's own transports,
this connection sends directly when its queue is empty, and queues only what the kernel did not
take, so ordering and back-pressure stay Twisted's.
"""

from __future__ import annotations

from twisted.internet import tcp


class DirectWriteConnection(tcp.Server):
    def write(self, data: bytes) -> None:
        if data and self.connected and not self.TLS and not self._writeDisconnected and not self.queued():
            try:
                sent = self.socket.send(data)
            except OSError:  # full (EAGAIN), or broken: the queued path sends later or reports the loss
                sent = 0
            if sent == len(data):
                return
            data = data[sent:]
        super().write(data)

    def queued(self) -> bool:
        return bool(self._tempDataLen or len(self.dataBuffer) > self.offset)
