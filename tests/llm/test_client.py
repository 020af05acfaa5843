"""The shared client's choice of transport: HTTP/2 against a real h2 server, and respx seeing every request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import respx
from hypercorn.asyncio import serve
from hypercorn.config import Config

from conversations.llm.base import Finish, Options
from conversations.llm.client import close_http_clients, get_http_client
from conversations.llm.config import HTTPLimits, HTTPNetwork
from conversations.llm.providers.openai import OpenAIProvider

from .conftest import config
from .servers import REPLY_EVENTS, free_port_socket

MESSAGES = [{"role": "user", "content": "hi"}]


async def streaming_app(scope, receive, send) -> None:
    """A Chat Completions endpoint as an ASGI app: each request gets REPLY_EVENTS, one body message each."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    streaming_app.versions.append(scope["http_version"])  # type: ignore[attr-defined]
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    for event in REPLY_EVENTS:
        await send({"type": "http.response.body", "body": event, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


@pytest.fixture
async def h2_server(authority) -> AsyncIterator[str]:
    """hypercorn serving `streaming_app` over TLS, offering h2 by ALPN; its https URL."""
    streaming_app.versions = []  # type: ignore[attr-defined]
    sock = free_port_socket()
    port = sock.getsockname()[1]
    settings = Config()
    settings.bind = [f"fd://{sock.detach()}"]  # hypercorn owns and closes it
    settings.certfile = settings.keyfile = str(authority.server_pem)
    settings.accesslog = settings.errorlog = None
    stop = asyncio.Event()
    server = asyncio.create_task(serve(streaming_app, settings, shutdown_trigger=stop.wait))
    yield f"https://localhost:{port}"
    await close_http_clients()  # hypercorn waits for open connections before it stops
    stop.set()
    await server


@pytest.mark.parametrize("fast", [False, True], ids=["default", "fast-asked-for"])
async def test_http2_streams_a_reply_from_a_real_h2_server(h2_server, authority, fast) -> None:
    network = HTTPNetwork(http2=True, fast=fast, ca_bundle=str(authority.bundle))  # fast is HTTP/1.1: not used
    provider = OpenAIProvider(config(h2_server + "/v1", network=network))
    texts: list[str] = []
    finish = await provider.stream_to(MESSAGES, Options("m"), texts.append)
    assert ("".join(texts), finish) == ("Hello, world", Finish("stop", "gpt-test", None))
    async with get_http_client(provider.config.limits, network).stream("GET", h2_server) as response:
        assert response.http_version == "HTTP/2"
    assert streaming_app.versions == ["2", "2"]  # type: ignore[attr-defined]


async def test_http2_off_speaks_http11_to_the_same_server(h2_server, authority) -> None:
    network = HTTPNetwork(ca_bundle=str(authority.bundle))
    response = await get_http_client(HTTPLimits(), network).get(h2_server)
    assert response.http_version == "HTTP/1.1"


@pytest.mark.parametrize("reading", ["stream", "stream_to"])
async def test_respx_intercepts_the_providers_default_client(reading) -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post("https://llm.invalid/v1/chat/completions").respond(
            200, headers={"content-type": "text/event-stream"}, content=b"".join(REPLY_EVENTS)
        )
        provider = OpenAIProvider(config("https://llm.invalid/v1", network=HTTPNetwork(), api_key="sk-mock"))
        if reading == "stream":
            events = [event async for event in provider.stream(MESSAGES, Options("m"))]
        else:
            texts: list[str] = []
            finish = await provider.stream_to(MESSAGES, Options("m"), texts.append)
            events = [*texts, finish]
    assert events == ["Hello", ", world", Finish("stop", "gpt-test", None)]
    assert route.calls.last.request.headers["authorization"] == "Bearer sk-mock"
    assert isinstance(route.calls.last.response, httpx.Response)
