"""Slow clients are cut off: a deadline for each HTTP request's headers, a cap on connections per IP.

Twisted restarts its idle timeout on every byte, so a client sending a header byte every few
seconds kept its connection, and a file descriptor, forever: 1,100 of them made /healthz fail with
"Too many open files". Daphne has an option for neither (upstream issue to file on django/daphne:
"a request-header timeout and a per-IP connection limit"), so chatsite/compat.py wraps daphne's
HTTP factory in `GuardedFactory`, built on Twisted's public `policies.WrappingFactory`. The
WebSocket handshake after the headers has daphne's own bound, `--websocket_connect_timeout`.
"""

from __future__ import annotations

from typing import Any

from twisted.protocols.policies import ProtocolWrapper, WrappingFactory

END_OF_HEADERS = b"\r\n\r\n"
SWITCHING_PROTOCOLS = b"HTTP/1.1 101"


class HeaderDeadline(ProtocolWrapper):
    """Aborts the connection when a request's headers take longer than `factory.header_timeout`.

    A request starts with the connection, or with the first byte after the server began answering
    the previous one, and its headers end at the blank line. Bytes after that are its body. A
    connection upgraded to a WebSocket is left alone."""

    timer: Any = None
    waiting = True  # for the current request's headers
    answered = False  # the server began answering the current request
    upgraded = False
    tail = b""  # the last bytes seen, in case the blank line is split across reads

    def makeConnection(self, transport) -> None:
        super().makeConnection(transport)
        self.arm()

    def arm(self) -> None:
        if self.factory.header_timeout > 0:
            self.timer = self.factory.clock.callLater(self.factory.header_timeout, self.too_slow)

    def disarm(self) -> None:
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None

    def too_slow(self) -> None:
        self.timer = None
        self.factory.cut_off += 1
        self.transport.abortConnection()

    def dataReceived(self, data: bytes) -> None:
        if not self.upgraded:
            if not self.waiting and self.answered:  # the next request on a kept-alive connection
                self.waiting, self.answered, self.tail = True, False, b""
                self.arm()
            if self.waiting:
                seen = self.tail + data
                if END_OF_HEADERS in seen:
                    self.waiting = False
                    self.disarm()
                self.tail = seen[-3:]
        super().dataReceived(data)

    def write(self, data: bytes) -> None:
        if not self.waiting and not self.answered:
            self.answered = True
            self.upgraded = data.startswith(SWITCHING_PROTOCOLS)
        super().write(data)

    def writeSequence(self, data) -> None:
        self.write(b"".join(data))

    def connectionLost(self, reason) -> None:
        self.disarm()
        super().connectionLost(reason)


class GuardedFactory(WrappingFactory):
    """Refuses a peer's connection past `max_per_ip` open ones (0: no cap) and gives each request
    `header_timeout` seconds (0: no deadline) to send its headers."""

    protocol = HeaderDeadline

    def __init__(self, wrapped_factory, *, header_timeout: float, max_per_ip: int, clock=None) -> None:
        super().__init__(wrapped_factory)
        if clock is None:
            from twisted.internet import reactor as clock
        self.clock = clock
        self.header_timeout = header_timeout
        self.max_per_ip = max_per_ip
        self.per_ip: dict[str, int] = {}
        self.refused = 0  # connections refused by the per-IP cap
        self.cut_off = 0  # connections aborted at the header deadline

    def buildProtocol(self, addr):
        host = getattr(addr, "host", None)  # None for a Unix socket: no per-IP count
        if host is not None and self.max_per_ip and self.per_ip.get(host, 0) >= self.max_per_ip:
            self.refused += 1
            return None  # Twisted closes the connection at once
        protocol = super().buildProtocol(addr)
        if host is not None:
            self.per_ip[host] = self.per_ip.get(host, 0) + 1
            protocol.peer_host = host
        return protocol

    def unregisterProtocol(self, protocol) -> None:
        super().unregisterProtocol(protocol)
        host = getattr(protocol, "peer_host", None)
        if host is not None:
            self.per_ip[host] -= 1
            if not self.per_ip[host]:
                del self.per_ip[host]
