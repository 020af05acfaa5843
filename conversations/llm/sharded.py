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
NO_PROXY), and each proxy gets its own pools.

Each pool is httpcore's `AsyncConnectionPool`, as in httpx's own `AsyncHTTPTransport`, built here
so that it can be given the asyncio network backend (asyncio_network.py: anyio's per-read cost
was a third of the transport's CPU per token, docs/performance.md), which httpx's transport does
not let a caller choose. Only public API is used: httpcore's pool, proxy, request and errors, and
httpx's `AsyncBaseTransport`, `Response` and error classes; `PoolTransport` maps each httpcore
error to the httpx error of the same name, as httpx's transport does.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator

import httpcore
import httpx

from .asyncio_network import AsyncioBackend
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
        return [Shard(PoolTransport(self.new_pool(limits, proxy)), size) for limits, size in split(self.limits)]

    def new_pool(self, limits: httpx.Limits, proxy: str | None) -> httpcore.AsyncConnectionPool:
        return httpcore.AsyncConnectionPool(
            ssl_context=self.verify,
            proxy=core_proxy(httpx.Proxy(proxy)) if proxy is not None else None,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=self.http2,
            network_backend=BACKEND,
        )

    async def aclose(self) -> None:
        for shards in self.pools.values():
            for shard in shards:
                await shard.transport.aclose()


BACKEND = AsyncioBackend()

# httpcore's errors and httpx's of the same names, most specific first (httpx's transport maps them alike).
ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as error:
        for core_error, httpx_error in ERRORS:
            if isinstance(error, core_error):
                raise httpx_error(str(error)) from error
        raise


def core_proxy(proxy: httpx.Proxy) -> httpcore.Proxy:
    return httpcore.Proxy(
        url=str(proxy.url), auth=proxy.raw_auth, headers=proxy.headers.raw, ssl_context=proxy.ssl_context
    )


class PoolTransport(httpx.AsyncBaseTransport):
    """One httpcore pool behind httpx's transport API."""

    def __init__(self, pool: httpcore.AsyncConnectionPool) -> None:
        self.pool = pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw,
            content=request.stream,  # type: ignore[arg-type]
            extensions=request.extensions,
        )
        with as_httpx_errors():
            response = await self.pool.handle_async_request(core_request)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=CoreStream(response.stream),  # type: ignore[arg-type]
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.pool.aclose()


class CoreStream(httpx.AsyncByteStream):
    """A response body from httpcore, its errors raised as httpx's."""

    __slots__ = ("stream",)

    def __init__(self, stream) -> None:
        self.stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with as_httpx_errors():
            async for chunk in self.stream:
                yield chunk

    async def aclose(self) -> None:
        with as_httpx_errors():
            await self.stream.aclose()


class Shard:
    """One pool and the requests it is serving, counted from send until the response is closed."""

    __slots__ = ("in_flight", "slots", "transport")

    def __init__(self, transport: PoolTransport, slots: int) -> None:
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
