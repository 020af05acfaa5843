"""The fast transport's connection pool: bounded by `httpx.Limits`, direct or through an HTTP proxy."""

from __future__ import annotations

import asyncio
import base64
import collections
import ssl

import httpx

from .fast_connection import Connection, Origin


class Pool:
    """Open connections per origin, bounded in total; requests past the bound wait in order."""

    def __init__(self, limits: httpx.Limits, ssl_context: ssl.SSLContext) -> None:
        self.limits = limits
        self.ssl_context = ssl_context
        self.idle: dict[Origin, list[Connection]] = collections.defaultdict(list)
        self.in_use = 0
        self.waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def open_count(self) -> int:
        return self.in_use + sum(len(connections) for connections in self.idle.values())

    async def acquire(self, origin: Origin, timeouts: dict[str, float | None]) -> tuple[Connection, bool]:
        """A connection for `origin`, and whether it was reused (and so may have gone stale)."""
        await self._take_slot(timeouts.get("pool"))
        connection = self._take_idle(origin)
        if connection is not None:
            return connection, True
        try:
            async with asyncio.timeout(timeouts.get("connect")):
                return await connect(origin, self.ssl_context), False
        except TimeoutError:
            self._free_slot()
            raise httpx.ConnectTimeout(f"connecting to {origin[1].decode()}:{origin[2]} timed out") from None
        except BaseException:
            self._free_slot()
            raise

    def release(self, connection: Connection) -> None:
        """Return a connection whose response was read to the end; close any other. Idempotent."""
        if connection.released:
            return
        connection.released = True
        keep = connection.usable and connection.complete and connection.reusable and not connection.queued
        if keep and self.limits.max_keepalive_connections != 0:
            connection.park(asyncio.get_running_loop().time())
            self.idle[connection.origin].append(connection)
            self._trim_idle()
        else:
            connection.abort()
        self._free_slot()

    def close(self) -> None:
        for connections in self.idle.values():
            for connection in connections:
                connection.abort()
        self.idle.clear()

    async def _take_slot(self, timeout: float | None) -> None:
        """Count this request in, waiting in line while `max_connections` are busy."""
        limit = self.limits.max_connections
        if limit is None or (self.in_use < limit and not self.waiters):
            self.in_use += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter  # a releasing request hands its slot over: in_use already counts us
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self._free_slot()  # handed a slot we can no longer use: pass it on
            else:
                self.waiters.remove(waiter)
            if isinstance(exc, TimeoutError):
                raise httpx.PoolTimeout("no connection became free in time") from None
            raise

    def _free_slot(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.in_use -= 1

    def _take_idle(self, origin: Origin) -> Connection | None:
        connections = self.idle.get(origin)
        expiry = self.limits.keepalive_expiry
        now = asyncio.get_running_loop().time()
        while connections:
            connection = connections.pop()
            connection.in_pool = False
            if connection.usable and (expiry is None or now - connection.idle_since < expiry):
                return connection
            connection.abort()
        limit = self.limits.max_connections
        if limit is not None and self.open_count > limit:
            self._close_oldest_idle()  # make room: an idle socket elsewhere is worth less than this request
        return None

    def _trim_idle(self) -> None:
        limit = self.limits.max_keepalive_connections
        while limit is not None and sum(len(connections) for connections in self.idle.values()) > limit:
            self._close_oldest_idle()

    def _close_oldest_idle(self) -> None:
        oldest = min((c for connections in self.idle.values() for c in connections), key=lambda c: c.idle_since)
        self.idle[oldest.origin].remove(oldest)
        oldest.abort()


async def connect(origin: Origin, tls: ssl.SSLContext) -> Connection:
    """Open a connection to `origin`: directly, or through its proxy (a CONNECT tunnel for https)."""
    scheme, host, port, proxy = origin
    hostname = host.decode("ascii")
    secure = scheme == b"https"
    loop = asyncio.get_running_loop()
    try:
        if not proxy:
            _, connection = await loop.create_connection(
                lambda: Connection(origin),
                hostname,
                port,
                ssl=tls if secure else None,
                server_hostname=hostname if secure else None,
            )
            return connection
        proxy_url = httpx.URL(proxy)
        _, connection = await loop.create_connection(lambda: Connection(origin), proxy_url.host, proxy_url.port or 80)
        if secure:
            try:
                await _tunnel(connection, proxy_url, host, port)
                connection.transport = await loop.start_tls(
                    connection.transport, connection, tls, server_hostname=hostname
                )  # type: ignore[assignment,arg-type]
            except BaseException:
                connection.abort()
                raise
        return connection
    except (OSError, ssl.SSLError) as exc:
        raise httpx.ConnectError(str(exc) or repr(exc)) from exc


async def _tunnel(connection: Connection, proxy: httpx.URL, host: bytes, port: int) -> None:
    """Ask the proxy for a tunnel to host:port; its answer is parsed like any response head."""
    authority = b"%s:%d" % (host, port)
    lines = [b"CONNECT %s HTTP/1.1" % authority, b"Host: " + authority, *proxy_authorization(proxy)]
    connection.start(head_request=True, read_timeout=None)
    connection.transport.write(b"\r\n".join(lines) + b"\r\n\r\n")  # type: ignore[union-attr]
    status = await connection.head()
    if not 200 <= status < 300:
        raise httpx.ProxyError(f"the proxy refused the tunnel: {status} {connection.reason.decode('latin-1')}")
    connection.start(head_request=False, read_timeout=None)


def proxy_authorization(proxy: httpx.URL) -> list[bytes]:
    if not proxy.userinfo:
        return []
    return [b"Proxy-Authorization: Basic " + base64.b64encode(proxy.userinfo)]
