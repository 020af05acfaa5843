"""The reaper daphne runs every second: it visits only connections whose application finished or
whose client left, and applies daphne's rules to them."""

from __future__ import annotations

import asyncio
import time

import pytest

from chatsite.reaper import ConnectionReaper


class Server:
    """The part of daphne's Server the reaper builds on (importing daphne installs its reactor)."""

    def __init__(self, application_close_timeout: float) -> None:
        self.connections: dict = {}
        self.application_close_timeout = application_close_timeout
        self.checks_scheduled = 0

    def protocol_connected(self, protocol) -> None:
        self.connections[protocol] = {"connected": 0.0}

    def protocol_disconnected(self, protocol) -> None:
        self.connections[protocol].setdefault("disconnected", time.time())


class ReapingServer(ConnectionReaper, Server):
    def check_again_later(self) -> None:
        self.checks_scheduled += 1


class Protocol:
    """Stands in for a daphne protocol: the reaper only hashes it and reports errors to it."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []

    def handle_exception(self, exception: BaseException) -> None:
        self.errors.append(exception)


@pytest.fixture
def server() -> ReapingServer:
    return ReapingServer(application_close_timeout=0.2)


def connect(server: ReapingServer, instance: asyncio.Future) -> Protocol:
    protocol = Protocol()
    server.protocol_connected(protocol)
    server.connections[protocol]["application_instance"] = instance
    instance.add_done_callback(lambda done: server.mark_reapable(protocol, done))
    return protocol


async def test_live_connections_are_not_visited_and_left_alone(server) -> None:
    running = asyncio.get_running_loop().create_future()
    protocol = connect(server, running)
    server.application_checker()
    assert server.reapable == set() and server.checks_scheduled == 1
    assert server.connections[protocol]["application_instance"] is running
    running.cancel()


async def test_a_gone_client_with_a_finished_application_is_forgotten(server) -> None:
    instance = asyncio.get_running_loop().create_future()
    protocol = connect(server, instance)
    instance.set_result(None)
    await asyncio.sleep(0)  # done callbacks run on the next loop pass
    server.protocol_disconnected(protocol)
    server.application_checker()
    assert protocol not in server.connections and server.reapable == set()


async def test_an_application_outliving_its_client_is_cancelled_after_the_close_timeout(server) -> None:
    instance = asyncio.get_running_loop().create_future()
    protocol = connect(server, instance)
    server.protocol_disconnected(protocol)
    server.application_checker()
    assert not instance.cancelled() and protocol in server.reapable  # looked at again next time
    await asyncio.sleep(0.3)
    server.application_checker()
    assert instance.cancelled()
    await asyncio.sleep(0)
    server.application_checker()
    assert protocol not in server.connections


async def test_a_crashed_application_on_a_live_connection_is_reported_to_its_protocol(server) -> None:
    instance = asyncio.get_running_loop().create_future()
    protocol = connect(server, instance)
    instance.set_exception(RuntimeError("boom"))
    await asyncio.sleep(0)
    server.application_checker()
    assert [str(error) for error in protocol.errors] == ["boom"]
    assert "application_instance" not in server.connections[protocol]
