"""The WebSocket endpoint: a thin adapter between protocol v1 and the generation service.

It authenticates, validates frames, subscribes to the conversation's group and relays
pre-serialised frames. It never runs the model: `generation` starts, stops and runs replies.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from chatsite import compat
from chatsite.compat import SkipPerMessageConnectionClose

from . import failures, generation, metrics, protocol, selectors, services
from .models import Message
from .protocol import ProtocolError
from .realtime import local
from .realtime.broadcast import conversation_group
from .revocation import SessionGuard, user_group

logger = logging.getLogger(__name__)

FINISHED = 2**62  # the seq recorded for finished replies, so their late deltas are ignored
LAYERLESS = "parley-layerless"  # a channel-layer alias that is never configured: a socket served without Redis
LIVE_SYNC_BACK = 1001  # close code telling a socket served without Redis to reconnect now that Redis is back


class TokenBucket:
    """Allows `rate` frames per second with bursts of the same size."""

    __slots__ = ("clock", "rate", "stamp", "tokens")

    def __init__(self, rate: float, clock=time.monotonic) -> None:
        self.rate = rate
        self.tokens = rate
        self.clock = clock
        self.stamp = clock()

    def allow(self) -> bool:
        now = self.clock()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class ConversationConsumer(SkipPerMessageConnectionClose, AsyncWebsocketConsumer):
    accepted = False  # until connect() accepts; broadcasts reaching a socket being refused are dropped
    elsewhere: frozenset[str] = frozenset()  # replies streaming on a branch this client is not shown
    live_sync = "ok"  # "degraded" while this socket only hears this process (Redis unreachable)

    async def __call__(self, scope, receive, send) -> None:
        """With Redis down the layer cannot give this socket a channel (Channels' consumer raised, and
        daphne answered HTTP 500): serve it from this process alone, degraded, instead."""
        try:
            await super().__call__(scope, receive, send)
        except failures.LINK_ERRORS:
            if self.channel_layer_alias == LAYERLESS or hasattr(self, "channel_name"):
                raise  # it failed after the channel was made: not the handshake's subscription
            logger.warning("Redis is unreachable: a socket is served by this process alone")
            self.channel_layer_alias = LAYERLESS
            self.live_sync = "degraded"
            await super().__call__(scope, receive, send)
        finally:
            await self.leave_everything()

    async def leave_everything(self) -> None:
        """However the consumer ended (a handler that raised skipped its disconnect), it leaves its
        groups and gives back its channel if the layer kept it (chatsite/compat.py): nothing of a
        closed socket stays subscribed in Redis. Each step does nothing if already done."""
        try:
            if hasattr(self, "guard"):
                await self.guard.stop()
            if hasattr(self, "group"):
                await self.leave_conversation()
            if getattr(self, "channel_layer", None) is not None and hasattr(self, "channel_name"):
                await compat.release_channel(self.channel_layer, self.channel_name)
        except failures.LINK_ERRORS:  # with Redis gone, the subscriptions went with the connection
            logger.debug("Could not release the subscriptions of channel %s", self.channel_name, exc_info=True)

    async def connect(self) -> None:
        """Subscribe, then read the snapshot, so no delta published after the read can be missed."""
        self.user = self.scope.get("user")
        self.conversation_id = self.scope["url_route"]["kwargs"]["conversation_id"]
        if self.user is None or not self.user.is_authenticated:
            await self.close()  # before accept: the handshake fails the same way for every reason
            return
        self.group = conversation_group(self.conversation_id)
        local.sockets.add(self.group, self)
        await self.join(self.group)
        state = await self.read_state()
        if state is None:
            await self.leave_conversation()
            await self.close()
            return
        self.bucket = TokenBucket(settings.PARLEY_WS_RATE)
        self.guard = SessionGuard(self)
        await self.guard.start()
        await self.accept()
        await self.send_snapshot(state)
        self.accepted = True  # frames relayed by this process before the snapshot are in it, or heal by seq
        metrics.CONVERSATION_SOCKETS.inc()
        if self.live_sync == "degraded" and not local.sockets.degraded:
            await local.sockets.set_degraded(True)  # Redis is down for every socket here: tell them all
        elif local.sockets.degraded:
            await self.live_sync_changed(True)

    async def disconnect(self, code: int) -> None:
        if self.accepted:
            metrics.CONVERSATION_SOCKETS.dec()
        if hasattr(self, "guard"):
            await self.guard.stop()
        if hasattr(self, "group"):
            await self.leave_conversation()

    async def leave_conversation(self) -> None:
        local.sockets.discard(self.group, self)
        await self.leave(self.group)
        del self.group

    async def join(self, group: str) -> None:
        """Subscribe to `group`; with Redis down this process's frames still arrive (realtime/local.py)."""
        if self.channel_layer is None:
            return
        try:
            await self.channel_layer.group_add(group, self.channel_name)
        except failures.LINK_ERRORS as error:
            logger.warning("Could not subscribe a socket to %s: %s", group, error)
            self.live_sync = "degraded"

    async def leave(self, group: str) -> None:
        if self.channel_layer is None:
            return
        try:
            await self.channel_layer.group_discard(group, self.channel_name)
        except failures.LINK_ERRORS:  # the subscription died with the Redis connection anyway
            logger.debug("Could not unsubscribe a socket from %s", group, exc_info=True)

    # --- frames from the client ---------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Answer every frame that is refused or fails with one error frame echoing its request_id."""
        request_id = None
        try:
            if not self.bucket.allow():
                raise ProtocolError("rate_limited", "Too many frames; slow down.", self.request_id_of(text_data))
            if text_data is None:
                raise ProtocolError("invalid_json", "Binary frames are not supported; send JSON text.")
            frame = protocol.parse_client_frame(text_data, max_bytes=settings.PARLEY_WS_MAX_FRAME)
            request_id = frame.request_id
            await failures.answer_within(self.handle(frame), settings.PARLEY_ANSWER_TIMEOUT)
        except ProtocolError as error:
            await self.send(text_data=protocol.error_frame(error.code, error.detail, error.request_id))
        except Exception as error:
            detail = failures.unavailable_detail(error)
            if detail is None:
                logger.exception("Frame handling failed")
                await self.send(text_data=protocol.error_frame("internal_error", INTERNAL_ERROR, request_id))
            else:
                logger.warning("Frame refused, a service is down: %r", error)
                await self.send(text_data=protocol.error_frame(failures.UNAVAILABLE, detail, request_id))

    @staticmethod
    def request_id_of(text_data: str | None) -> str | None:
        if text_data is None or len(text_data) > settings.PARLEY_WS_MAX_FRAME:
            return None
        return protocol.request_id_of(text_data)

    async def handle(self, frame: protocol.ClientFrame) -> None:
        """One client frame; the generation service decides, refusals become error frames."""
        if frame.type == "sync":
            await self.send_snapshot()
            return
        try:
            started = await self.dispatch_action(frame)
        except generation.Refused as refusal:
            raise ProtocolError(refusal.code, refusal.detail, frame.request_id) from None
        if started is not None:
            await self.answer_started(started, frame.request_id)

    async def answer_started(self, started: generation.ReplyStart, request_id: str | None) -> None:
        """The sender hears what its frame created from here, not through Redis, which may be down;
        the broadcast copies are then skipped by id (chat_frame). A retry is answered again in full."""
        first_new = started.user_message or started.reply  # a new branch starts here (`replaces`)
        messages = [(m, started.replaces if m is first_new else None) for m in (started.user_message, started.reply)]
        for message, replaces in messages:
            if message is None:
                continue
            key = str(message.id)
            if started.continues and not started.duplicate:
                self.seen[key] = message.seq  # followed again from its saved text; the broadcast copy is skipped
            elif not started.duplicate:
                if key in self.shown:
                    continue
                self.shown.add(key)
                if message.role == Message.Role.ASSISTANT:
                    self.seen.setdefault(key, 0)
            payload = protocol.message_payload(message)
            await self.send(text_data=protocol.created_frame(payload, request_id, replaces))

    async def dispatch_action(self, frame: protocol.ClientFrame) -> generation.ReplyStart | None:
        ids = {"user": self.user, "conversation_id": self.conversation_id}
        if frame.type == "message.send":
            return await generation.start(
                **ids,
                content=frame.content,
                request_id=frame.request_id,
                model=frame.model,
                attachments=frame.attachments,
            )
        if frame.type == "message.edit":
            return await generation.edit(
                **ids, message_id=frame.message_id, content=frame.content, request_id=frame.request_id
            )
        if frame.type == "message.regenerate":
            return await generation.regenerate(**ids, request_id=frame.request_id, message_id=frame.message_id)
        if frame.type == "message.continue":
            return await generation.continue_reply(**ids, request_id=frame.request_id)
        if frame.type == "branch.select":  # answered by the snapshot every socket on it is sent
            await database_sync_to_async(services.branch_select)(**ids, message_id=frame.message_id)
        else:
            await generation.stop(**ids)
        return None

    # --- frames to the client -----------------------------------------------

    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False) -> None:
        """Drop a frame for a socket its client is closing: the disconnect that follows cleans up.

        Daphne raises when a frame reaches a socket already closing ("Attempt to send on a closed
        protocol"); raised out of a handler, that ended the consumer before its disconnect ran, and
        left the socket's channel and groups subscribed in Redis for good (found by bench/soak;
        the same path as django/channels_redis#276).
        """
        try:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        except Exception as error:  # daphne's server raises the WebSocket library's own error type
            logger.debug("Dropped a frame for a closing socket: %s", error)

    async def read_state(self) -> selectors.ConversationState | None:
        return await database_sync_to_async(selectors.conversation_with_messages)(
            user=self.user, conversation_id=self.conversation_id
        )

    async def send_snapshot(self, state: selectors.ConversationState | None = None) -> None:
        """The branch shown as it stands, live text included; from then on only newer deltas, and
        nothing of a reply streaming on another branch."""
        state = state or await self.read_state()
        if state is None:
            raise ProtocolError("not_found", "This conversation does not exist.")
        conversation, messages, self.elsewhere = state
        payloads = [protocol.message_payload(message) for message in messages]
        self.seen: dict[str, int] = {}  # last seq forwarded per streaming reply
        self.shown = {payload["id"] for payload in payloads}  # ids whose message.created is old news
        for message, payload in zip(messages, payloads, strict=True):
            if payload["status"] == "streaming":
                live = await generation.live_state(payload["id"])
                if live is not None and live[1] >= payload["seq"]:
                    payload.update(protocol.live_fields(message, *live))
                self.seen[payload["id"]] = payload["seq"]
            elif payload["role"] == "assistant":
                self.seen[payload["id"]] = FINISHED
        await self.send(text_data=protocol.snapshot_frame(protocol.conversation_payload(conversation), payloads))

    async def chat_delta(self, event: dict[str, Any]) -> None:
        """Forward a delta once, in order; a gap means a broadcast was lost, so resend the snapshot."""
        if not self.accepted or event["id"] in self.elsewhere:
            return
        last = self.seen.get(event["id"])
        seq = event["seq"]
        if last is not None and seq == last + 1:
            self.seen[event["id"]] = seq
            await self.send(text_data=event["frame"])
        elif last is None or seq > last + 1:
            await self.send_snapshot()

    async def chat_frame(self, event: dict[str, Any]) -> None:
        """A whole frame; `opens` starts tracking a new reply, `reopens` a continued one, `done` ends it."""
        if not self.accepted:
            return
        if event.get("done") in self.elsewhere:  # a reply on a branch this client is not shown
            self.elsewhere -= {event["done"]}
            return
        reopened = event.get("reopens")
        if reopened is not None:
            if self.seen.get(reopened, FINISHED) != FINISHED:
                return  # this socket's snapshot already showed it streaming again, with newer text
            self.seen[reopened] = int(event["seq"])
        created = event.get("created")
        if created is not None:
            if created in self.shown:
                return  # already in the snapshot this socket got, with newer text than this frame
            self.shown.add(created)
        if "opens" in event:
            self.seen.setdefault(event["opens"], 0)
        if "done" in event:
            self.seen[event["done"]] = FINISHED
        await self.send(text_data=event["frame"])

    async def chat_resync(self, event: dict[str, Any]) -> None:
        """The branch shown changed (`branch.select`): every socket sends its client a new snapshot."""
        if self.accepted:
            await self.send_snapshot()

    async def session_revoked(self, event: dict[str, Any]) -> None:
        await self.guard.on_revoked(event)

    # --- when Redis is down (realtime/local.py) -------------------------------

    async def relay(self, message: dict[str, Any]) -> None:
        """A frame this process could not publish through Redis, handed over directly."""
        if message["type"] == "chat.delta":
            await self.chat_delta(message)
        elif message["type"] == "chat.frame":
            await self.chat_frame(message)

    async def live_sync_changed(self, degraded: bool) -> None:
        """Tell the client. Once Redis is back, a socket served without it reconnects; the others
        subscribe again (a subscription refused during the outage is not retried by the layer) and
        get a snapshot, which holds whatever other processes published meanwhile."""
        if not self.accepted:
            return
        if not degraded and self.channel_layer is None:
            await self.close(code=LIVE_SYNC_BACK)
            return
        self.live_sync = "degraded" if degraded else "ok"
        await self.send(text_data=protocol.connection_status_frame(self.live_sync))
        if not degraded:
            await self.join(self.group)
            await self.join(user_group(self.user.pk))
            await self.send_snapshot()


INTERNAL_ERROR = "The server could not handle that frame."
