"""The default transport's small pools behave as one pool of the configured size."""

from __future__ import annotations

import asyncio
import ssl

import httpx
import pytest

from conversations.llm.network import ProxyChoice
from conversations.llm.sharded import SHARD_SIZE, ShardedTransport, split

from .servers import RawServer, answer_ok_forever


@pytest.mark.parametrize(
    ("connections", "keepalive"), [(1000, 100), (40, 5), (40, 40), (SHARD_SIZE + 1, 1), (SHARD_SIZE, 3), (10, 10)]
)
def test_the_pools_add_up_to_the_configured_limits(connections, keepalive) -> None:
    pools = split(httpx.Limits(max_connections=connections, max_keepalive_connections=keepalive))

    assert sum(size for _, size in pools) == connections
    assert sum(limits.max_connections for limits, _ in pools) == connections
    assert sum(limits.max_keepalive_connections for limits, _ in pools) == keepalive
    assert all(limits.max_connections <= max(SHARD_SIZE, connections // len(pools)) for limits, _ in pools)
    assert len(pools) == 1 if connections <= SHARD_SIZE else len(pools) > 1


def client(connections: int, keepalive: int, pool_timeout: float = 2.0) -> tuple[httpx.AsyncClient, ShardedTransport]:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=keepalive)
    transport = ShardedTransport(limits, ssl.create_default_context(), False, ProxyChoice())
    return httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(2.0, pool=pool_timeout)), transport


async def test_the_pools_together_admit_exactly_max_connections_then_queue() -> None:
    server = RawServer(answer_ok_forever)
    url = await server.start()
    connections = 3 * SHARD_SIZE - 2
    http, transport = client(connections, 5, pool_timeout=0.3)
    held = [await http.send(http.build_request("GET", url), stream=True) for _ in range(connections)]
    try:
        assert server.connections == connections  # every request got a connection of its own
        shards = transport.pools[None]
        assert len(shards) == 3 and all(shard.free() == 0 for shard in shards)
        with pytest.raises(httpx.PoolTimeout):
            await http.get(url)
        waiting = asyncio.create_task(http.get(url, timeout=httpx.Timeout(2.0)))
        await held.pop().aclose()
        assert (await waiting).text == "ok"
    finally:
        for response in held:
            await response.aclose()
        await http.aclose()


async def test_requests_spread_over_the_pools_and_give_their_slot_back_once() -> None:
    server = RawServer(answer_ok_forever)
    url = await server.start()
    http, transport = client(3 * SHARD_SIZE, 3)
    try:
        held = [await http.send(http.build_request("GET", url), stream=True) for _ in range(3)]
        shards = transport.pools[None]
        assert [shard.in_flight for shard in shards] == [1, 1, 1]
        for response in held:
            await response.aread()  # read to the end, then closed, so its connection is kept alive
            await response.aclose()  # a second close gives nothing back twice
        assert [shard.in_flight for shard in shards] == [0, 0, 0]
        assert (await http.get(url)).text == "ok"  # a kept-alive connection is reused
        assert server.connections == 3
    finally:
        await http.aclose()
