"""The optional fast HTTP/1.1 transport for httpx (LLM_FAST_TRANSPORT=1), parsing with llhttp.

httpx's own transport passes every body chunk through httpcore's pool, connection and stream
layers and h11's event machinery, and a streamed reply arrives as one small chunk per token
(docs/performance.md has the cost). This transport keeps httpx's client, request and response
objects and replaces only the wire: one `asyncio.Protocol` per connection, fed to httptools'
response parser (llhttp, the parser of Node.js), and a keep-alive pool bounded by `httpx.Limits`.
It speaks HTTP/1.1 over TCP or TLS, directly or through an HTTP proxy (CONNECT for https).

A response's body can also be pushed: `response.extensions["parley.push"](sink)` hands every
body chunk to `sink.body()` from the parser's callback, and the end to `sink.end()`. A reader
that parses synchronously then wakes no task per chunk.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from .fast_connection import ResponseStream
from .fast_pool import Pool, proxy_authorization
from .network import ProxyChoice

DEFAULT_PORTS = {b"http": 80, b"https": 443}
PUSH = "parley.push"  # the response extension that switches a body to push delivery


class FastTransport(httpx.AsyncBaseTransport):
    """httpx's transport interface over `Pool`; the body streams until the caller closes the response."""

    def __init__(self, limits: httpx.Limits, ssl_context: ssl.SSLContext, proxies: ProxyChoice) -> None:
        self.pool = Pool(limits, ssl_context)
        self.proxies = proxies

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.raw_scheme not in DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        proxy = self.proxies.for_url(url)
        if proxy is not None and proxy.scheme != "http":
            raise httpx.UnsupportedProtocol(f"the fast transport reaches proxies over http:// only, not {proxy}")
        origin = (url.raw_scheme, url.raw_host, url.port or DEFAULT_PORTS[url.raw_scheme], str(proxy or ""))
        message = _request_bytes(request, await request.aread(), proxy if url.raw_scheme == b"http" else None)
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        while True:
            connection, reused = await self.pool.acquire(origin, timeouts)
            connection.start(head_request=request.method == "HEAD", read_timeout=timeouts.get("read"))
            try:
                connection.transport.write(message)  # type: ignore[union-attr]
                status = await connection.head()
            except BaseException as exc:
                connection.abort()
                self.pool.release(connection)
                if reused and isinstance(exc, httpx.TransportError) and not connection.started:
                    continue  # the server closed an idle connection just as we used it: try a fresh one
                raise
            stream = ResponseStream(connection, self.pool)
            extensions: dict[str, Any] = {"http_version": b"HTTP/1.1", "reason_phrase": connection.reason}
            if not any(name.lower() == b"content-encoding" for name, _ in connection.headers):
                extensions[PUSH] = stream.push  # a compressed body must go through httpx's decoders
            return httpx.Response(status, headers=connection.headers, stream=stream, extensions=extensions)

    async def aclose(self) -> None:
        self.pool.close()


def _request_bytes(request: httpx.Request, body: bytes, proxy: httpx.URL | None) -> bytes:
    """The request head and body as one write; absolute-form target when sent to a proxy."""
    url = request.url
    target = url.raw_path
    if proxy is not None:
        target = str(url.copy_with(fragment=None)).encode("ascii")
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), target)]
    for name, value in request.headers.raw:
        if name.lower() not in (b"content-length", b"transfer-encoding"):
            lines.append(name + b": " + value)
    if body or request.method in ("POST", "PUT", "PATCH"):
        lines.append(b"Content-Length: %d" % len(body))
    if proxy is not None:
        lines += proxy_authorization(proxy)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
