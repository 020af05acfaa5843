"""The one module that touches private names of daphne, Twisted, autobahn, Channels and channels-redis.

Each patch was verified against one exact release of the libraries it touches (VERIFIED). `apply()`
runs at start-up and applies a patch only when every library it touches is that release; any other
release gets one warning per library and is left alone, so a newer daphne or channels-redis runs
stock rather than half-patched (`scripts/test --latest` runs the suite on the newest releases). Each
patch names the upstream issue that would let it go. Why each is kept, by measurement:
docs/performance.md; the ones measured and removed are listed there too.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import types
from collections.abc import Callable
from importlib.metadata import version

from conversations.realtime.inbox import Inbox

logger = logging.getLogger(__name__)

VERIFIED = {
    "daphne": "4.2.3",
    "Twisted": "26.10.0",
    "autobahn": "26.10.2",
    "channels": "4.3.2",
    "channels-redis": "4.3.0",
}
RFC6455_SERVER_CODES = frozenset({1001, 1008, 1011})

applied: set[str] = set()  # names of the patches in force in this process


def installed_version(library: str) -> str:
    return version(library)


@functools.cache
def verified(library: str) -> bool:
    """Whether `library` is the release the patches were checked on; warns once if not."""
    installed = installed_version(library)
    if installed == VERIFIED[library]:
        return True
    logger.warning(
        "%s %s is installed, but Parley's patches to it were verified on %s only: they are off, "
        "and it runs as released (see chatsite/compat.py).",
        library,
        installed,
        VERIFIED[library],
    )
    return False


# --- Functional fixes --------------------------------------------------------------------------


def close_codes() -> None:
    """Let daphne close with 1001, 1008 and 1011, as RFC 6455 defines and ASGI passes through.

    Autobahn's `sendClose` accepts only 1000 and 3000-4999 from an application, so daphne raised
    on `{"type": "websocket.close", "code": 1011}`. This sends those codes as a plain close frame.
    Upstream: django/daphne#374 and crossbario/autobahn-python#1642 (close codes 1001-2999).
    """
    from daphne.ws_protocol import WebSocketProtocol

    def server_close(self: WebSocketProtocol, code: int | None = None) -> None:
        code = 1000 if code is None else code
        if code in RFC6455_SERVER_CODES:
            self.sendCloseFrame(code=code, isReply=False)
        else:
            self.sendClose(code=code)

    WebSocketProtocol.serverClose = server_close


def fail_with_close_frame() -> None:
    """Refuse an oversized or invalid frame with a close frame (1009, 1007), not a TCP drop (1006).

    Autobahn fails a connection by dropping TCP unless `failByDrop=False`, and daphne gives no way
    to set that option. Upstream issue to file on django/daphne: "set failByDrop=False (or accept
    extra autobahn protocol options) so a frame over --websocket-max-message-size closes with 1009".
    """
    from daphne.ws_protocol import WebSocketFactory

    original_init = WebSocketFactory.__init__

    @functools.wraps(original_init)
    def init(self: WebSocketFactory, *args, **kwargs) -> None:
        original_init(self, *args, **kwargs)
        self.setProtocolOptions(failByDrop=False)  # daphne's own options, set later, leave this alone

    WebSocketFactory.__init__ = init


def unlimited_outgoing_messages() -> None:
    """Apply daphne's message size limit to what clients send only, not to what the server sends.

    Autobahn checks `maxMessagePayloadSize` on outgoing messages too, so a conversation snapshot
    over the incoming limit could not be sent and the socket closed. Upstream issue to file on
    crossbario/autobahn-python: "maxMessagePayloadSize also refuses outgoing messages; give it an
    incoming-only meaning or a separate outgoing option".
    """
    from daphne.ws_protocol import WebSocketProtocol

    original_send = WebSocketProtocol.sendMessage

    @functools.wraps(original_send)
    def send_message(self: WebSocketProtocol, payload: bytes, *args, **kwargs) -> None:
        limit = self.maxMessagePayloadSize
        if not 0 < limit < len(payload):
            return original_send(self, payload, *args, **kwargs)
        self.maxMessagePayloadSize = 0  # an option autobahn copied onto this connection
        try:
            return original_send(self, payload, *args, **kwargs)
        finally:
            self.maxMessagePayloadSize = limit

    WebSocketProtocol.sendMessage = send_message


def slow_client_limits() -> None:
    """Daphne listens through `chatsite.slow_clients.GuardedFactory`: a deadline for each request's
    headers (PARLEY_HEADER_TIMEOUT) and a cap on connections per IP (PARLEY_MAX_CONNECTIONS_PER_IP).

    Daphne builds its HTTP factory inside `Server.run` and offers no option or hook for either, so
    daphne.server's own name `HTTPFactory` is replaced, once daphne serves this process. Daphne
    already carries upgraded connections through a Twisted `ProtocolWrapper` (it does for TLS).
    Upstream issue to file on django/daphne: "a request-header timeout and a per-IP connection
    limit (or a hook to wrap the HTTP factory)".
    """
    server = sys.modules.get("daphne.server")
    if server is None:
        raise LookupError("daphne is not serving this process")
    from django.conf import settings

    from chatsite.slow_clients import GuardedFactory

    daphne_factory = server.HTTPFactory

    def guarded_factory(daphne_server):
        return GuardedFactory(
            daphne_factory(daphne_server),
            header_timeout=settings.PARLEY_HEADER_TIMEOUT,
            max_per_ip=settings.PARLEY_MAX_CONNECTIONS_PER_IP,
        )

    server.HTTPFactory = guarded_factory


# --- Performance patches, kept by measurement (docs/performance.md) ------------------------------


class AsyncioWithInbox(types.ModuleType):
    """The asyncio module as one library module sees it, with `Queue` the two-slot `Inbox`."""

    Queue = Inbox

    def __getattr__(self, name: str):
        return getattr(asyncio, name)


def light_application_queue() -> None:
    """Daphne's per-connection application queue becomes the two-slot `Inbox`.

    An `asyncio.Queue` holds four deques and an Event from birth, memory an idle socket never uses;
    daphne creates one per connection in `create_application`, which only calls `get` and
    `put_nowait`. Only daphne.server's own name `asyncio` is changed, and only once daphne serves
    this process. Upstream issue to file on django/daphne: "a lighter per-connection input queue".
    """
    server = sys.modules.get("daphne.server")
    if server is None:
        raise LookupError("daphne is not serving this process")
    server.asyncio = AsyncioWithInbox("asyncio")


def light_channel_queues() -> None:
    """channels-redis's per-channel queue (`_subscribe_to_channel`) becomes the two-slot `Inbox`.

    Every socket owns a channel; its pub/sub layer only calls `get` and `put_nowait` on it.
    Upstream issue to file on django/channels_redis: "RedisPubSubLoopLayer: a lighter queue per
    channel, or a hook to choose it".
    """
    from channels_redis import pubsub

    pubsub.asyncio = AsyncioWithInbox("asyncio")


def direct_socket_writes() -> None:
    """Twisted's accepted TCP connections send at once when nothing is queued, as asyncio's do.

    Twisted queues every write and waits for a writable event; under uvloop that starts and stops
    a poll handle per WebSocket frame. Only what the kernel does not take is queued, so ordering
    and back-pressure stay Twisted's. Upstream issue to file on twisted/twisted: "tcp.Connection:
    try a direct send when the write buffer is empty".
    """
    from twisted.internet import tcp

    class DirectWriteConnection(tcp.Server):
        def write(self, data: bytes) -> None:
            if data and self.connected and not self.TLS and not self._writeDisconnected and not self.queued():
                try:
                    sent = self.socket.send(data)
                except OSError:  # full (EAGAIN), or broken: the queued path sends later or reports it
                    sent = 0
                if sent == len(data):
                    return
                data = data[sent:]
            super().write(data)

        def queued(self) -> bool:
            return bool(self._tempDataLen or len(self.dataBuffer) > self.offset)

    tcp.Port.transport = DirectWriteConnection


Patch = tuple[str, tuple[str, ...], Callable[[], None]]
PATCHES: list[Patch] = [
    ("close_codes", ("daphne", "autobahn"), close_codes),
    ("fail_with_close_frame", ("daphne", "autobahn"), fail_with_close_frame),
    ("unlimited_outgoing_messages", ("daphne", "autobahn"), unlimited_outgoing_messages),
    ("slow_client_limits", ("daphne", "Twisted"), slow_client_limits),
    ("light_application_queue", ("daphne",), light_application_queue),
    ("light_channel_queues", ("channels-redis",), light_channel_queues),
    ("direct_socket_writes", ("Twisted",), direct_socket_writes),
]


def apply() -> None:
    """Apply every patch whose libraries are the verified releases; safe to call again."""
    for name, libraries, patch in PATCHES:
        if name in applied:
            continue
        if all([verified(library) for library in libraries]):  # a list, so each library is checked
            try:
                patch()
            except LookupError:
                continue
            applied.add(name)


# --- Channels ----------------------------------------------------------------------------------


class SkipPerMessageConnectionClose:
    """A consumer mixin: dispatch without Channels' per-message `aclose_old_connections`.

    Channels 4.3.2's `AsyncConsumer.dispatch` hops to the database thread before every message to
    close stale connections (added by django/channels#2090), relayed broadcasts included, and those
    hops queue behind each other and behind real queries. A consumer whose database calls all go
    through `database_sync_to_async`, which closes stale connections itself, gains nothing from it.
    Upstream issue to file on django/channels: "dispatch: skip aclose_old_connections for
    channel-layer messages, or let a consumer opt out".
    """

    async def dispatch(self, message: dict) -> None:
        if not verified("channels"):
            return await super().dispatch(message)
        from channels.consumer import get_handler_name

        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


# --- channels-redis: where a group is published ------------------------------------------------


def group_channel_namer(layer) -> Callable[[str], str] | None:
    """The layer's own (private) method naming the Redis pub/sub channel a group is published on,
    on the verified release only, else None: then the caller uses the public `layer.group_send`.

    The payload to publish is `layer.serialize(message)`, a public method of channels-redis's
    layers (Channels' BaseChannelLayer has none), exactly what group_send sends. Asked once per
    event loop, by the broadcaster, instead of through the layer's per-loop lookup for every
    delta. Call it on the event loop that uses the layer; the name depends only on its prefix."""
    if not verified("channels-redis"):
        return None
    from channels_redis.pubsub import RedisPubSubChannelLayer

    if not isinstance(layer, RedisPubSubChannelLayer):
        return None
    return layer._get_layer()._get_group_channel_name


# --- channels-redis: a finished consumer's channel ---------------------------------------------


async def release_channel(layer, channel: str) -> bool:
    """Unsubscribe a finished consumer's channel that channels-redis left subscribed; True if it had.

    The pub/sub layer unsubscribes a channel only when a `receive` waiting on it is cancelled, and
    Channels' `await_many_dispatch` cancels only the tasks still pending when a consumer stops. A
    socket whose disconnect and a broadcast for it arrive in the same loop pass stops with its
    channel's receive already done, so the channel stayed subscribed for the life of the process
    (found by bench/soak). Only on the verified release, and only for a channel the layer still
    holds. Upstream: django/channels_redis#276 (a `delete_channel()` for the layer), or Channels
    cancelling and draining every task in `await_many_dispatch`.
    """
    if not verified("channels-redis"):
        return False
    from channels_redis.pubsub import RedisPubSubChannelLayer

    if not isinstance(layer, RedisPubSubChannelLayer):
        return False
    loop_layer = layer._get_layer()
    if loop_layer.channels.pop(channel, None) is None:
        return False
    await loop_layer._get_shard(channel).unsubscribe(channel)
    return True
