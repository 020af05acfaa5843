"""Slow clients are cut off: a deadline for request headers and a cap on connections per IP.

The attack run: each dripped byte restarted Twisted's 60 s idle timeout, so a drip connection was
never closed, and 1,100 of them made /healthz return 500 ("Too many open files"). These run against
a real daphne started as in production (chatsite/slow_clients.py, applied by chatsite/compat.py).
"""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from tests.servers import ServerProcess, live_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def connection(server: ServerProcess, timeout: float = 15.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.settimeout(timeout)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """Read until the server closes (True) or the socket's timeout passes (False)."""
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


@pytest.fixture
def guarded_server(transactional_db):
    server = ServerProcess(live_env(PARLEY_HEADER_TIMEOUT="1", PARLEY_MAX_CONNECTIONS_PER_IP="4")).start()
    yield server
    server.stop()


def test_a_client_dripping_its_headers_is_cut_off(guarded_server):
    sock = connection(guarded_server)
    sock.sendall(HEAD)
    try:
        for _ in range(50):  # a header byte every 0.2 s: each one restarted the old idle timeout
            sock.sendall(b"X")
            time.sleep(0.2)
    except (BrokenPipeError, ConnectionResetError):
        pass  # cut off while dripping
    assert closed_by_server(sock)
    assert httpx.get(f"{guarded_server.http_url}/healthz").status_code in (200, 503)  # still serving


def test_connections_past_the_per_ip_cap_are_closed_at_once(guarded_server):
    held = [connection(guarded_server) for _ in range(4)]
    for sock in held:
        sock.sendall(HEAD)  # headers under way, not yet over the deadline
    extra = connection(guarded_server, timeout=0.9)
    assert closed_by_server(extra)  # closed before the header deadline could have done it
    for sock in held:
        sock.close()


def test_a_prompt_client_on_a_kept_alive_connection_is_served(guarded_server):
    with httpx.Client(base_url=guarded_server.http_url) as client:
        for _ in range(3):
            assert client.get("/healthz").status_code in (200, 503)
