"""httpx's own transport, split into several small connection pools: the default transport.

httpcore's pool walks every one of its connections, several times over, whenever a request
starts or ends (encode/httpcore#1035), so its cost per request grows with the square of the
connections open. Hundreds of replies streaming from one provider hold hundreds of connections,
and that walk became most of the CPU of the whole streaming path. Pools of at most `SHARD_SIZE`
connections keep each walk short.

Each request goes to the pool with the most free slots, so the pools together admit exactly
`max_connections` requests, as one pool would; spreading the load also keeps each walk shorter
than filling the pools in order, which measured slower. Keep-alive is split evenly, so no more
than `max_keepalive_connections` connections stay idle in all.

A client given a ready-made transport ignores the proxy environment, so the proxy is chosen per
request here, from `ProxyChoice` (an explicit proxy, else HTTP(S)_PROXY/ALL_PROXY minus
NO_PROXY), and each proxy gets its own pools of httpx's own proxying transport. Only public httpx
API is used: `httpx.AsyncHTTPTransport` for every pool and `httpx.AsyncBaseTransport` around them.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import httpx

from .network import ProxyChoice

SHARD_SIZE = 16  # connections per pool; measured in docs/performance.md ("The default transport")


class ShardedTransport(httpx.AsyncBaseTransport):
    """Requests spread over pools of httpx's own transport; a response holds its pool's slot until closed."""

    def __init__(self, limits: httpx.Limits, verify: ssl.SSLContext, http2: bool, proxies: ProxyChoice) -> None:
        self.limits = limits
        self.verify = verify
        self.http2 = http2
        self.proxies = proxies
        self.pools: dict[str | None, list[Shard]] = {}  # by proxy URL; None is the direct route

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        proxy = self.proxies.for_url(request.url)
        key = str(proxy) if proxy is not None else None
        shards = self.pools.get(key) or self.pools.setdefault(key, self.new_shards(key))
        shard = max(shards, key=Shard.free)  # with every pool full, it waits in its pool's queue
        shard.in_flight += 1
        try:
            response = await shard.transport.handle_async_request(request)
        except BaseException:
            shard.in_flight -= 1
            raise
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=ReleasingStream(response.stream, shard),  # type: ignore[arg-type]
            extensions=response.extensions,
        )

    def new_shards(self, proxy: str | None) -> list[Shard]:
        return [
            Shard(httpx.AsyncHTTPTransport(verify=self.verify, http2=self.http2, limits=limits, proxy=proxy), size)
            for limits, size in split(self.limits)
        ]

    async def aclose(self) -> None:
        for shards in self.pools.values():
            for shard in shards:
                await shard.transport.aclose()


class Shard:
    """One pool and the requests it is serving, counted from send until the response is closed."""

    __slots__ = ("in_flight", "slots", "transport")

    def __init__(self, transport: httpx.AsyncHTTPTransport, slots: int) -> None:
        self.transport = transport
        self.slots = slots
        self.in_flight = 0

    def free(self) -> int:
        return self.slots - self.in_flight


class ReleasingStream(httpx.AsyncByteStream):
    """A response body that gives its shard's slot back once, when it is closed."""

    __slots__ = ("shard", "stream")

    def __init__(self, stream: httpx.AsyncByteStream, shard: Shard | None) -> None:
        self.stream = stream
        self.shard = shard

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.stream.__aiter__()  # the pool's own iterator: no extra step per chunk

    async def aclose(self) -> None:
        shard, self.shard = self.shard, None
        if shard is not None:
            shard.in_flight -= 1
        await self.stream.aclose()


def split(limits: httpx.Limits) -> list[tuple[httpx.Limits, int]]:
    """Per-pool limits that add up to the given ones, with each pool's size; one pool when small or unbounded."""
    total, keepalive = limits.max_connections, limits.max_keepalive_connections
    if total is None or total <= SHARD_SIZE:
        return [(limits, total if total is not None else 2**31)]
    count = -(-total // SHARD_SIZE)
    sizes = evenly(total, count)
    idle = evenly(keepalive, count) if keepalive is not None else sizes
    return [
        (
            httpx.Limits(
                max_connections=size, max_keepalive_connections=kept, keepalive_expiry=limits.keepalive_expiry
            ),
            size,
        )
        for size, kept in zip(sizes, idle, strict=True)
    ]


def evenly(amount: int, parts: int) -> list[int]:
    """`amount` split into `parts` whole shares that differ by at most one."""
    return [amount // parts + (index < amount % parts) for index in range(parts)]
