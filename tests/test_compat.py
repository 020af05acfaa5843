"""chatsite/compat.py: its patches apply on the verified releases only, and each kept fix works
through a real daphne and a real client; the group channel name it gives reaches a real group."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis
import websockets
from channels.consumer import AsyncConsumer
from channels_redis.pubsub import RedisPubSubChannelLayer

from chatsite import compat
from tests.servers import ROOT, free_port

MiB = 1024 * 1024
ALL_VERIFIED = all(compat.installed_version(library) == wanted for library, wanted in compat.VERIFIED.items())
needs_verified = pytest.mark.skipif(not ALL_VERIFIED, reason="the patches are off on other releases")


# --- A tiny ASGI application for daphne: what the fixes are about, and nothing else --------------


async def application(scope, receive, send) -> None:
    """/close/<code> accepts then closes with that code; /send/<bytes> sends that much text."""
    assert scope["type"] == "websocket"
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    action, argument = scope["path"].strip("/").split("/")
    if action == "close":
        with contextlib.suppress(Exception):  # unpatched autobahn raises, and a crash would close with 1011
            await send({"type": "websocket.close", "code": int(argument)})
    else:
        await send({"type": "websocket.send", "text": "x" * int(argument)})
    while (await receive())["type"] != "websocket.disconnect":
        pass


LAUNCH = """
import sys
from daphne.cli import CommandLineInterface  # imports daphne.server, as chatsite.server does
from chatsite import compat
compat.apply()
CommandLineInterface().run(sys.argv[1:])
"""


@pytest.fixture(scope="module")
def daphne_url() -> Iterator[str]:
    """Daphne with the patches applied as chatsite.server applies them, and a 1 MiB frame limit."""
    port = free_port()
    limits = ["--websocket-max-message-size", str(MiB), "--websocket-max-frame-size", str(MiB)]
    address = ["-b", "127.0.0.1", "-p", str(port)]
    command = [sys.executable, "-c", LAUNCH, *address, *limits, "tests.test_compat:application"]
    process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            assert process.poll() is None and time.monotonic() < deadline, "daphne did not start"
            time.sleep(0.1)
        yield f"ws://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


async def close_code(connection) -> int:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with asyncio.timeout(10):
            while True:
                await connection.recv()
    return closed.value.rcvd.code if closed.value.rcvd else 1006


@needs_verified
@pytest.mark.parametrize("code", [1001, 1008, 1011])
async def test_rfc6455_close_codes_reach_the_client(daphne_url, code):
    async with websockets.connect(f"{daphne_url}/close/{code}") as connection:
        assert await close_code(connection) == code


@needs_verified
async def test_the_server_sends_a_message_over_the_incoming_limit(daphne_url):
    async with websockets.connect(f"{daphne_url}/send/{2 * MiB}", max_size=4 * MiB) as connection:
        async with asyncio.timeout(10):
            assert len(await connection.recv()) == 2 * MiB


@needs_verified
async def test_a_client_frame_over_the_limit_closes_with_1009(daphne_url):
    async with websockets.connect(f"{daphne_url}/send/1") as connection:
        await connection.recv()
        await connection.send("x" * (MiB + 1))
        assert await close_code(connection) == 1009


# --- Version guard, on the real library classes, in a fresh interpreter each ----------------------

PROBE = """
import asyncio, json, logging, sys
import daphne.server
from channels_redis import pubsub
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
from twisted.internet import tcp
from chatsite import compat

logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="WARNING %(message)s")
fake = json.loads(sys.argv[1])
real = compat.installed_version
compat.installed_version = lambda library: fake.get(library) or real(library)
compat.apply()
compat.apply()
replaced = {
    "close_codes": WebSocketProtocol.serverClose.__module__ != "daphne.ws_protocol",
    "fail_with_close_frame": hasattr(WebSocketFactory.__init__, "__wrapped__"),
    "unlimited_outgoing_messages": hasattr(WebSocketProtocol.sendMessage, "__wrapped__"),
    "light_application_queue": daphne.server.asyncio is not asyncio,
    "light_channel_queues": pubsub.asyncio is not asyncio,
    "direct_socket_writes": tcp.Port.transport is not tcp.Server,
    "slow_client_limits": daphne.server.HTTPFactory.__module__ == "chatsite.compat",
}
print(json.dumps({"applied": sorted(compat.applied), "replaced": sorted(k for k, v in replaced.items() if v)}))
"""


def probe(fake_versions: dict[str, str]) -> tuple[dict, list[str]]:
    """Apply compat twice under the given fake versions; what was applied and replaced, and the warnings."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(fake_versions)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    lines = result.stdout.splitlines()
    return json.loads(lines[-1]), [line for line in lines if line.startswith("WARNING")]


@needs_verified
def test_every_patch_applies_on_the_verified_releases():
    state, warnings = probe({})
    assert state["applied"] == state["replaced"] == sorted(name for name, _, _ in compat.PATCHES)
    assert warnings == []


def test_on_other_releases_nothing_is_replaced_and_each_library_warns_once():
    state, warnings = probe({library: "99.0" for library in compat.VERIFIED})
    assert state == {"applied": [], "replaced": []}
    patched_libraries = {library for _, libraries, _ in compat.PATCHES for library in libraries}
    assert sorted(line.split()[1] for line in warnings) == sorted(patched_libraries)


@needs_verified
def test_a_newer_daphne_turns_off_only_the_patches_that_touch_daphne():
    state, warnings = probe({"daphne": "5.0"})
    untouched = sorted(name for name, libraries, _ in compat.PATCHES if "daphne" not in libraries)
    assert state["applied"] == state["replaced"] == untouched
    assert len(warnings) == 1 and warnings[0].startswith("WARNING daphne 5.0 ")


@needs_verified
def test_the_asgi_module_applies_the_fixes_for_runserver_too():
    import chatsite.asgi  # noqa: F401  (daphne's runserver imports it; it has no chatsite.server)

    assert {"close_codes", "fail_with_close_frame", "unlimited_outgoing_messages"} <= compat.applied


# --- Channels: the per-message connection close ------------------------------------------------


class Consumer(compat.SkipPerMessageConnectionClose, AsyncConsumer):
    def __init__(self) -> None:
        self.seen: list[dict] = []

    async def chat_frame(self, message: dict) -> None:
        self.seen.append(message)


@pytest.fixture
def connection_closes(monkeypatch) -> list[int]:
    """Counts Channels' per-message `aclose_old_connections` (a thread hop) as dispatch calls it."""
    import channels.consumer

    calls: list[int] = []

    async def counting() -> None:
        calls.append(1)

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counting)
    return calls


@pytest.fixture
def fake_channels_version(monkeypatch) -> Iterator[None]:
    monkeypatch.setattr(compat, "installed_version", lambda library: "99.0")
    compat.verified.cache_clear()
    yield
    compat.verified.cache_clear()


@pytest.mark.skipif(not compat.verified("channels"), reason="the mixin defers to Channels on other releases")
async def test_dispatch_skips_the_connection_close_on_the_verified_channels(connection_closes):
    consumer = Consumer()
    await consumer.dispatch({"type": "chat.frame", "n": 1})
    assert consumer.seen == [{"type": "chat.frame", "n": 1}] and connection_closes == []
    with pytest.raises(ValueError, match="No handler"):
        await consumer.dispatch({"type": "chat.unknown"})


async def test_dispatch_is_channels_own_on_other_releases(connection_closes, fake_channels_version):
    consumer = Consumer()
    await consumer.dispatch({"type": "chat.frame", "n": 1})
    assert consumer.seen == [{"type": "chat.frame", "n": 1}] and connection_closes == [1]


# --- channels-redis: publishing to a group by its Redis channel ----------------------------------


@pytest.fixture
async def layer(redis_url) -> Iterator[RedisPubSubChannelLayer]:
    layer = RedisPubSubChannelLayer(hosts=[redis_url], prefix="parley-compat-test")
    yield layer
    await layer.flush()


@pytest.mark.integration
@pytest.mark.skipif(not compat.verified("channels-redis"), reason="None on other releases: group_send is used")
async def test_a_message_published_on_the_group_channel_reaches_a_group_member(layer, redis_url):
    channel = await layer.new_channel()
    await layer.group_add("room", channel)
    message = {"type": "chat.frame", "frame": '{"type": "x"}', "seq": 7}
    client = aioredis.from_url(redis_url)
    try:
        receivers = await client.publish(compat.group_channel_namer(layer)("room"), layer.serialize(message))
    finally:
        await client.aclose()
    assert receivers == 1
    async with asyncio.timeout(5):
        assert await layer.receive(channel) == message


async def test_no_group_channel_name_on_other_releases(layer, fake_channels_version):
    assert compat.group_channel_namer(layer) is None


# --- channels-redis: releasing a finished consumer's channel ---------------------------------------


@pytest.mark.integration
@pytest.mark.skipif(not compat.verified("channels-redis"), reason="does nothing on other releases")
async def test_a_channel_left_subscribed_is_released_once(layer, redis_url):
    channel = await layer.new_channel()  # subscribed, and no receive will ever be cancelled on it
    assert await compat.release_channel(layer, channel) is True
    assert await compat.release_channel(layer, channel) is False  # already released: nothing to do
    client = aioredis.from_url(redis_url)
    try:
        assert not [name for name in await client.pubsub_channels() if name.decode().endswith(channel)]
    finally:
        await client.aclose()


async def test_no_channel_is_released_on_other_releases(layer, fake_channels_version):
    channel = await layer.new_channel()
    assert await compat.release_channel(layer, channel) is False
