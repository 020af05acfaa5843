"""One pooled `httpx.AsyncClient` per event loop, shared by every provider in the process.

httpx connections belong to the loop that opened them, and tests run several loops, so the cache
is keyed by the running loop (weakly, so a closed loop's entry goes away with it). httpx's own
read timeout is disabled: it is per read, so a server dripping one byte at a time would defeat it;
`streaming.py` enforces the first-byte and idle bounds per event instead. The wire is
`transport.StreamingTransport`, and bodies are read raw, so responses are asked for uncompressed.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import weakref

import certifi
import httpx

from .config import HTTPLimits
from .transport import StreamingTransport

logger = logging.getLogger(__name__)

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[HTTPLimits, httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)


def get_http_client(limits: HTTPLimits) -> httpx.AsyncClient:
    """The shared client of the running loop for these limits, created on first use."""
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    client = per_loop.get(limits)
    if client is None or client.is_closed:
        client = per_loop[limits] = _new_client(limits)
    return client


def _new_client(limits: HTTPLimits) -> httpx.AsyncClient:
    pool_limits = httpx.Limits(max_connections=limits.max_connections, max_keepalive_connections=limits.max_keepalive)
    return httpx.AsyncClient(
        timeout=httpx.Timeout(
            connect=limits.connect_timeout, read=None, write=limits.connect_timeout, pool=limits.first_byte_timeout
        ),
        transport=StreamingTransport(pool_limits, ssl.create_default_context(cafile=certifi.where())),
        headers={"accept-encoding": "identity"},
        trust_env=False,  # explicit configuration only: no proxy picked up from the environment
    )


async def close_http_clients() -> None:
    """Close the running loop's clients (call at shutdown, before the loop stops)."""
    per_loop = _clients.pop(asyncio.get_running_loop(), {})
    for client in per_loop.values():
        await client.aclose()
    if per_loop:
        logger.debug("closed %d LLM HTTP client(s)", len(per_loop))
