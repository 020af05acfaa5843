"""The LLM HTTP stack against real servers, over httpx's own transport and the fast one.

TLS with a CA made in the test, client certificates, a real forward proxy (proxy.py), keep-alive,
pool bounds and cancellation. HTTP/2 and respx concern httpx's own transport only.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from conversations.llm.base import Options
from conversations.llm.client import close_http_clients, get_http_client
from conversations.llm.config import HTTPLimits, HTTPNetwork
from conversations.llm.errors import LLMError, UpstreamConnectError
from conversations.llm.providers.openai import OpenAIProvider

from . import conftest
from .conftest import config
from .servers import OK, RawServer, answer_ok_forever, answer_replies_forever, read_request

pytestmark = pytest.mark.usefixtures("transport")

PROXY_VARIABLES = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"]


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch) -> None:
    """The tests set the proxy environment themselves; the machine's must not leak in."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def network(**options) -> HTTPNetwork:
    return HTTPNetwork(fast=conftest.FAST, **options)


async def ask(url: str, **options) -> str:
    """One reply through `stream_to`, as the generation path reads it, with these network options."""
    provider = OpenAIProvider(config(url + "/v1", network=network(**options), max_attempts=1))
    texts: list[str] = []
    await provider.stream_to([{"role": "user", "content": "hi"}], Options("m"), texts.append)
    return "".join(texts)


# TLS


async def test_a_server_of_an_unknown_ca_is_refused_and_trusted_with_ca_bundle(authority) -> None:
    server = RawServer(answer_replies_forever)
    url = await server.start(authority.server_context())
    with pytest.raises(UpstreamConnectError):
        await ask(url)  # certifi / the system store does not know the test CA
    assert await ask(url, ca_bundle=str(authority.bundle)) == "Hello, world"


async def test_ssl_cert_file_in_the_environment_is_trusted(authority, monkeypatch) -> None:
    server = RawServer(answer_replies_forever)
    url = await server.start(authority.server_context())
    monkeypatch.setenv("SSL_CERT_FILE", str(authority.bundle))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    assert await ask(url) == "Hello, world"


@pytest.mark.parametrize("key_file", ["combined", "separate"])
async def test_a_server_requiring_a_client_certificate_accepts_ours(authority, key_file) -> None:
    server = RawServer(answer_replies_forever)
    url = await server.start(authority.server_context(require_client_cert=True))
    trusting = {"ca_bundle": str(authority.bundle)}
    with pytest.raises(LLMError):
        await ask(url, **trusting)
    if key_file == "combined":
        identity = {"client_cert": str(authority.client_combined)}
    else:
        identity = {"client_cert": str(authority.client_cert), "client_key": str(authority.client_key)}
    assert await ask(url, **trusting, **identity) == "Hello, world"


# Proxies


async def test_plain_http_goes_through_the_explicit_proxy(forward_proxy) -> None:
    server = RawServer(answer_replies_forever)
    url = await server.start()
    assert await ask(url, proxy=forward_proxy.url) == "Hello, world"
    await close_http_clients()
    await forward_proxy.wait_logged(f"POST localhost:{server.port}/v1/chat/completions")


async def test_https_tunnels_through_the_explicit_proxy_to_the_test_ca_server(forward_proxy, authority) -> None:
    server = RawServer(answer_replies_forever)
    url = await server.start(authority.server_context())
    assert await ask(url, proxy=forward_proxy.url, ca_bundle=str(authority.bundle)) == "Hello, world"
    await close_http_clients()
    await forward_proxy.wait_logged(f"CONNECT localhost:{server.port}")


async def test_https_proxy_from_the_environment_is_used(forward_proxy, authority, monkeypatch) -> None:
    server = RawServer(answer_replies_forever)
    url = await server.start(authority.server_context())
    monkeypatch.setenv("HTTPS_PROXY", forward_proxy.url)
    assert await ask(url, ca_bundle=str(authority.bundle)) == "Hello, world"
    await close_http_clients()
    await forward_proxy.wait_logged(f"CONNECT localhost:{server.port}")


async def test_no_proxy_hosts_bypass_the_environment_proxy(authority, monkeypatch) -> None:
    dead = RawServer(answer_ok_forever)
    dead_url = await dead.start()
    await dead.close()  # a proxy that refuses every connection: only a bypassed request can succeed
    server = RawServer(answer_replies_forever)
    url = await server.start(authority.server_context())
    monkeypatch.setenv("HTTPS_PROXY", dead_url)
    with pytest.raises(UpstreamConnectError):
        await ask(url, ca_bundle=str(authority.bundle))
    await close_http_clients()  # the environment is read when a client is built
    monkeypatch.setenv("NO_PROXY", "example.com,localhost")
    assert await ask(url, ca_bundle=str(authority.bundle)) == "Hello, world"


# Connections and the pool


LIMITS = HTTPLimits(connect_timeout=2.0, first_byte_timeout=2.0)


async def test_replies_reuse_one_kept_alive_connection() -> None:
    server = RawServer(answer_replies_forever)
    url = await server.start()
    assert [await ask(url) for _ in range(3)] == ["Hello, world"] * 3
    assert server.connections == 1


async def test_requests_send_their_body_with_its_length() -> None:
    seen: list[bytes] = []

    async def handler(reader, writer):
        while True:
            seen.append(await read_request(reader))
            writer.write(OK)

    server = RawServer(handler)
    url = await server.start()
    response = await get_http_client(LIMITS, network()).post(f"{url}/v1/chat?x=2", json={"n": 2})
    assert (response.status_code, response.text) == (200, "ok")
    assert seen[0].startswith(b"POST /v1/chat?x=2 HTTP/1.1\r\n")
    assert b"\r\ncontent-length: 7\r\n" in seen[0].lower() and seen[0].endswith(b'{"n":2}')


async def test_requests_past_max_connections_wait_their_turn_or_time_out() -> None:
    server = RawServer(answer_ok_forever)
    url = await server.start()
    http = get_http_client(HTTPLimits(first_byte_timeout=0.2, max_connections=1, max_keepalive=1), network())
    async with http.stream("GET", url) as first:
        with pytest.raises(httpx.PoolTimeout):
            await http.get(url)
        waiting = asyncio.create_task(http.get(url, timeout=httpx.Timeout(2.0)))
        await first.aread()
    assert (await waiting).text == "ok"
    assert server.connections == 1


async def test_cancelling_a_reply_closes_its_connection_and_frees_the_pool() -> None:
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        writer.write(b"%x\r\n%s\r\n" % (len(part := b'data: {"choices":[{"delta":{"content":"tick"}}]}\n\n'), part))
        await reader.read()  # the rest never comes: wait for the client to give up

    server = RawServer(handler)
    url = await server.start()
    one = HTTPLimits(first_byte_timeout=1.0, max_connections=1, max_keepalive=1)
    provider = OpenAIProvider(config(url, network=network(), limits=one))
    first = asyncio.Event()
    task = asyncio.create_task(
        provider.stream_to([{"role": "user", "content": "x"}], Options("m"), lambda _: first.set())
    )
    await asyncio.wait_for(first.wait(), 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(server.ended.wait(), 2)  # dropped, not pooled with an unread body
    server.handler = answer_ok_forever
    assert (await get_http_client(one, network()).get(url)).text == "ok"  # the only slot is free again


async def test_a_reply_stopped_before_the_server_answers_frees_its_connection_in_bounded_time() -> None:
    asked = asyncio.Event()

    async def handler(reader, writer):
        await read_request(reader)
        asked.set()
        await reader.read()  # never answers: wait for the client to give up

    server = RawServer(handler)
    url = await server.start()
    one = HTTPLimits(connect_timeout=0.2, first_byte_timeout=0.3, max_connections=1, max_keepalive=1)
    provider = OpenAIProvider(config(url, network=network(), limits=one, max_attempts=1))
    task = asyncio.create_task(provider.stream_to([{"role": "user", "content": "x"}], Options("m"), print))
    await asyncio.wait_for(asked.wait(), 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(server.ended.wait(), 3)  # closed once the send's own bounds passed
    server.handler = answer_ok_forever
    assert (await get_http_client(one, network()).get(url, timeout=2.0)).text == "ok"


async def test_a_connection_the_server_closed_while_idle_is_replaced_transparently() -> None:
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(OK)
        await writer.drain()  # then close without saying so: the client learns only when it reuses it

    server = RawServer(handler)
    url = await server.start()
    http = get_http_client(LIMITS, network())
    assert (await http.get(url)).text == "ok"
    await asyncio.wait_for(server.ended.wait(), 2)
    assert (await http.get(url)).text == "ok"
    assert server.connections == 2


async def test_a_closing_server_gets_a_new_connection_per_request() -> None:
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbye")

    server = RawServer(handler)
    url = await server.start()
    http = get_http_client(LIMITS, network())
    assert [(await http.get(url)).text for _ in range(2)] == ["bye", "bye"]
    assert server.connections == 2


async def test_an_interim_head_is_skipped_for_the_response_after_it() -> None:
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + OK)

    server = RawServer(handler)
    url = await server.start()
    response = await get_http_client(LIMITS, network()).get(url)
    assert (response.status_code, response.text, "link" in response.headers) == (200, "ok", False)


async def test_garbage_and_refused_connections_are_typed_httpx_errors() -> None:
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")

    server = RawServer(handler)
    url = await server.start()
    http = get_http_client(LIMITS, network())
    with pytest.raises(httpx.RemoteProtocolError):
        await http.get(url)
    await server.close()
    with pytest.raises(httpx.ConnectError):
        await http.get(url)
