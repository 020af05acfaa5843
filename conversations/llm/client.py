"""One pooled `httpx.AsyncClient` per event loop and network setup, shared by every provider in the process.

httpx connections belong to the loop that opened them, and tests run several loops, so the cache
is keyed by the running loop (weakly, so a closed loop's entry goes away with it). httpx's own
read timeout is disabled: it is per read, so a server dripping one byte at a time would defeat it;
`streaming.py` enforces the first-byte and idle bounds per event instead.

Bodies are asked for uncompressed (`accept-encoding: identity`): a streamed reply is many tiny
flushed chunks, which compression barely shrinks but would make every chunk pass a decoder, and
an uncompressed body is what the fast transport can push straight to the parser.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

import httpx

from .config import HTTPLimits, HTTPNetwork
from .network import ProxyChoice, ssl_context
from .sharded import ShardedTransport
from .transport import FastTransport

logger = logging.getLogger(__name__)

ClientKey = tuple[HTTPLimits, HTTPNetwork]
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[ClientKey, httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)
_warned_fast_http2 = False
DIRECT = HTTPNetwork()  # no proxy beyond the environment's, the default trust, HTTP/1.1


def get_http_client(limits: HTTPLimits, network: HTTPNetwork = DIRECT) -> httpx.AsyncClient:
    """The shared client of the running loop for these limits and network, created on first use."""
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    client = per_loop.get((limits, network))
    if client is None or client.is_closed:
        client = per_loop[limits, network] = new_http_client(limits, network)
    return client


def new_http_client(limits: HTTPLimits, network: HTTPNetwork) -> httpx.AsyncClient:
    """httpx's own transport (httpcore) in small pools, or the fast one when asked for and HTTP/2 is off."""
    pool_limits = httpx.Limits(max_connections=limits.max_connections, max_keepalive_connections=limits.max_keepalive)
    timeout = httpx.Timeout(
        connect=limits.connect_timeout, read=None, write=limits.connect_timeout, pool=limits.first_byte_timeout
    )
    tls, proxies = ssl_context(network), ProxyChoice(network.proxy)
    if network.fast and network.http2:
        _warn_fast_http2()
    if network.fast and not network.http2:
        transport: httpx.AsyncBaseTransport = FastTransport(pool_limits, tls, proxies)
    else:
        transport = ShardedTransport(pool_limits, tls, network.http2, proxies)
    return httpx.AsyncClient(transport=transport, timeout=timeout, headers={"accept-encoding": "identity"})


def _warn_fast_http2() -> None:
    global _warned_fast_http2
    if not _warned_fast_http2:
        _warned_fast_http2 = True
        logger.warning("LLM_FAST_TRANSPORT is HTTP/1.1 only: with LLM_HTTP2 on, httpx's own transport is used")


async def send_streaming(client: httpx.AsyncClient, request: httpx.Request, orphan_limit: float) -> httpx.Response:
    """`client.send(request, stream=True)`, which a cancelled caller leaves to finish in the background.

    httpcore 1.0.9 leaks a pool slot for good when a request is cancelled while it waits for a
    connection the pool is opening for it (encode/httpcore#1093, fix proposed in #1099), and
    stopping a reply under pool contention does exactly that. So the send runs as its own task,
    and a cancelled caller closes the response once it arrives instead of cancelling the send.
    After `orphan_limit` seconds (past the pool and connect bounds, so no longer connecting)
    the send is cancelled, so a server that never answers does not hold the connection.
    """
    sending = asyncio.ensure_future(client.send(request, stream=True))
    try:
        return await asyncio.shield(sending)
    except asyncio.CancelledError:
        _orphans.add(sending)
        give_up = asyncio.get_running_loop().call_later(orphan_limit, sending.cancel)
        sending.add_done_callback(lambda _: give_up.cancel())
        sending.add_done_callback(_close_orphan)
        raise


_orphans: set[asyncio.Future] = set()  # sends whose caller was cancelled, and the closes of their responses


def _close_orphan(sending: asyncio.Future) -> None:
    _orphans.discard(sending)
    if sending.cancelled() or sending.exception() is not None:
        return
    closing = asyncio.ensure_future(sending.result().aclose())
    _orphans.add(closing)
    closing.add_done_callback(_orphans.discard)


async def close_http_clients() -> None:
    """Close the running loop's clients (call at shutdown, before the loop stops)."""
    per_loop = _clients.pop(asyncio.get_running_loop(), {})
    for client in per_loop.values():
        await client.aclose()
    if per_loop:
        logger.debug("closed %d LLM HTTP client(s)", len(per_loop))
