"""GuardedFactory on Twisted's test clock and transport: the header deadline and the per-IP count."""

from __future__ import annotations

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from chatsite.slow_clients import GuardedFactory

HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"


class Echo(Protocol):
    def dataReceived(self, data: bytes) -> None:
        if data.endswith(b"\r\n\r\n"):
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")


def guarded(clock: Clock, max_per_ip: int = 0) -> GuardedFactory:
    return GuardedFactory(Factory.forProtocol(Echo), header_timeout=10, max_per_ip=max_per_ip, clock=clock)


def opened(factory: GuardedFactory, host: str = "198.51.100.7"):
    protocol = factory.buildProtocol(IPv4Address("TCP", host, 40000))
    if protocol is None:
        return None, None
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


@pytest.mark.parametrize("split", [1, 2, 3])
def test_the_deadline_is_lifted_by_headers_split_anywhere(split):
    clock = Clock()
    protocol, transport = opened(guarded(clock))
    request = HEAD + b"\r\n"
    protocol.dataReceived(request[:-split])
    protocol.dataReceived(request[-split:])
    clock.advance(60)
    assert not transport.disconnecting and not getattr(transport, "aborted", False)


def test_the_next_request_on_a_kept_alive_connection_has_its_own_deadline():
    clock = Clock()
    factory = guarded(clock)
    protocol, transport = opened(factory)
    protocol.dataReceived(HEAD + b"\r\n")
    assert transport.value().startswith(b"HTTP/1.1 200")
    protocol.dataReceived(b"GET / HTTP/1.1\r\n")  # the next request, never finished
    clock.advance(10.1)
    assert factory.cut_off == 1


def test_the_per_ip_count_is_freed_on_close():
    factory = guarded(Clock(), max_per_ip=1)
    protocol, _ = opened(factory)
    assert opened(factory)[0] is None and opened(factory, host="198.51.100.8")[0] is not None
    protocol.connectionLost(None)
    assert opened(factory)[0] is not None
