"""The WebSocket endpoint: a thin adapter between protocol v1 and the reply runtime.

It authenticates, validates frames, subscribes to the conversation's group and relays
pre-serialised frames. It never runs the model: generations live in the runtime.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings

from . import protocol, replies, selectors
from .llm import registry
from .models import Conversation, Message
from .payloads import conversation_payload, message_payload
from .protocol import ProtocolError
from .realtime.broadcast import conversation_group
from .realtime.pump import pump
from .realtime.runtime import Runtime, get_runtime
from .revocation import SessionGuard

logger = logging.getLogger(__name__)

FINISHED = 2**62  # the seq recorded for finished replies, so their late deltas are ignored


class TokenBucket:
    """Allows `rate` frames per second with bursts of the same size."""

    __slots__ = ("rate", "stamp", "tokens")

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.stamp = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class ConversationConsumer(AsyncWebsocketConsumer):
    runtime: Runtime
    accepted = False  # until connect() accepts; broadcasts are dropped before that

    async def __call__(self, scope, receive, send) -> None:
        """AsyncConsumer.__call__, with the lighter dispatch loop of realtime/pump.py."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.channel_name = await self.channel_layer.new_channel()
        self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
        self.base_send = send
        with contextlib.suppress(StopConsumer):
            await pump([receive, self.channel_receive], self.dispatch)

    async def connect(self) -> None:
        """Subscribe, then read the snapshot, so no delta published after the read can be missed."""
        user = self.scope.get("user")
        self.conversation_id = self.scope["url_route"]["kwargs"]["conversation_id"]
        if user is None or not user.is_authenticated:
            await self.close()  # before accept: the handshake fails the same way for every reason
            return
        self.user = user
        self.group = conversation_group(self.conversation_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        state = await database_sync_to_async(selectors.conversation_with_messages)(
            user=user, conversation_id=self.conversation_id
        )
        if state is None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            del self.group
            await self.close()
            return
        self.seen: dict[str, int] = {}  # last seq forwarded per streaming reply
        self.shown: set[str] = set()  # ids of messages this socket already has
        self.bucket = TokenBucket(settings.PARLEY_WS_RATE)
        self.runtime = await get_runtime()
        self.guard = SessionGuard(self)
        await self.guard.start()
        await self.accept()
        self.accepted = True
        await self.send_snapshot(state)

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "guard"):
            await self.guard.stop()
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its per-message `aclose_old_connections` thread hop.

        Every database call here goes through `database_sync_to_async`, which already closes
        stale connections in the worker thread, so the hop was pure cost: once per client frame
        and, worse, once per relayed delta.
        """
        if not self.accepted and not message["type"].startswith("websocket."):
            return  # a broadcast that reached a socket being refused (it subscribes before its read)
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- frames from the client ---------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            if not self.bucket.allow():
                raise ProtocolError("rate_limited", "Too many frames; slow down.")
            if text_data is None:
                raise ProtocolError("invalid_json", "Binary frames are not supported; send JSON text.")
            frame = protocol.parse_client_frame(text_data, max_bytes=settings.PARLEY_WS_MAX_FRAME)
            await self.handle(frame)
        except ProtocolError as error:
            await self.send(text_data=protocol.error_frame(error.code, error.detail, error.request_id))
        except Exception:
            logger.exception("Frame handling failed")
            await self.send(text_data=protocol.error_frame("internal_error", "The server could not handle that frame."))

    async def handle(self, frame: protocol.ClientFrame) -> None:
        try:
            if frame.type == "message.send":
                await self.start_reply(replies.reply_start, content=frame.content, request_id=frame.request_id)
            elif frame.type == "message.regenerate":
                await self.start_reply(replies.reply_regenerate, request_id=frame.request_id)
        except replies.ReplyRefused as refusal:
            raise ProtocolError(refusal.code, refusal.detail, frame.request_id) from None
        if frame.type == "generation.stop":
            await self.stop_reply()
        elif frame.type == "sync":
            await self.send_snapshot()

    async def start_reply(self, start, **fields: Any) -> None:
        started = await database_sync_to_async(start)(
            user=self.user,
            conversation_id=self.conversation_id,
            worker=self.runtime.worker_channel,
            model=registry.default_options().model,
            **fields,
        )
        if started.duplicate:
            await self.send_created_again(started, fields["request_id"])
        else:
            self.runtime.begin(started, fields["request_id"])

    async def send_created_again(self, started: replies.ReplyStart, request_id: str) -> None:
        """A retried send is answered with the messages it created the first time."""
        for message in (started.user_message, started.reply):
            if message is not None:
                await self.send(text_data=protocol.created_frame(message_payload(message), request_id))

    async def stop_reply(self) -> None:
        conversation = await self.owned_conversation()
        reply = await database_sync_to_async(selectors.streaming_reply)(conversation=conversation)
        if reply is None:
            raise ProtocolError("not_generating", "No reply is being generated in this conversation.")
        await self.runtime.stop(reply)

    async def owned_conversation(self):
        """Ownership is checked on every action, not only on connect."""
        conversation = await database_sync_to_async(selectors.conversation_get)(
            user=self.user, conversation_id=self.conversation_id
        )
        if conversation is None:
            raise ProtocolError("not_found", "This conversation does not exist.")
        return conversation

    # --- frames to the client -----------------------------------------------

    async def send_snapshot(self, state: tuple[Conversation, list[Message]] | None = None) -> None:
        """The conversation as it stands, live text included, then only newer deltas."""
        if state is None:
            state = await database_sync_to_async(selectors.conversation_with_messages)(
                user=self.user, conversation_id=self.conversation_id
            )
            if state is None:
                raise ProtocolError("not_found", "This conversation does not exist.")
        conversation, messages = state
        payloads = [message_payload(message) for message in messages]
        self.seen = {}
        self.shown = {payload["id"] for payload in payloads}  # ids whose message.created is old news
        for payload in payloads:
            if payload["status"] == "streaming":
                live = await self.runtime.live_state(payload["id"])
                if live is not None and live[1] >= payload["seq"]:
                    payload["content"], payload["seq"] = live
                self.seen[payload["id"]] = payload["seq"]
            elif payload["role"] == "assistant":
                self.seen[payload["id"]] = FINISHED
        await self.send(text_data=protocol.snapshot_frame(conversation_payload(conversation), payloads))

    async def chat_delta(self, event: dict[str, Any]) -> None:
        """Forward a delta once, in order; a gap means a broadcast was lost, so resend the snapshot."""
        last = self.seen.get(event["id"])
        seq = event["seq"]
        if last is not None and seq == last + 1:
            self.seen[event["id"]] = seq
            await self.send(text_data=event["frame"])
        elif last is None or seq > last + 1:
            await self.send_snapshot()

    async def session_revoked(self, event: dict[str, Any]) -> None:
        await self.guard.on_revoked(event)

    async def chat_frame(self, event: dict[str, Any]) -> None:
        """A whole frame; `opens` starts tracking a new reply, `done` ends it."""
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
