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

from chatsite.compat import SkipPerMessageConnectionClose

from . import generation, protocol, selectors
from .models import Conversation, Message
from .protocol import ProtocolError
from .realtime.broadcast import conversation_group
from .revocation import SessionGuard

logger = logging.getLogger(__name__)

FINISHED = 2**62  # the seq recorded for finished replies, so their late deltas are ignored


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

    async def connect(self) -> None:
        """Subscribe, then read the snapshot, so no delta published after the read can be missed."""
        self.user = self.scope.get("user")
        self.conversation_id = self.scope["url_route"]["kwargs"]["conversation_id"]
        if self.user is None or not self.user.is_authenticated:
            await self.close()  # before accept: the handshake fails the same way for every reason
            return
        self.group = conversation_group(self.conversation_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        state = await self.read_state()
        if state is None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            del self.group
            await self.close()
            return
        self.bucket = TokenBucket(settings.PARLEY_WS_RATE)
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
        """One client frame; the generation service decides, refusals become error frames."""
        if frame.type == "sync":
            await self.send_snapshot()
            return
        ids = {"user": self.user, "conversation_id": self.conversation_id}
        try:
            if frame.type == "message.send":
                started = await generation.start(
                    **ids, content=frame.content, request_id=frame.request_id, model=frame.model
                )
            elif frame.type == "message.regenerate":
                started = await generation.regenerate(**ids, request_id=frame.request_id)
            else:
                await generation.stop(**ids)
                return
        except generation.Refused as refusal:
            raise ProtocolError(refusal.code, refusal.detail, frame.request_id) from None
        if started.duplicate:  # a retried request is answered with what it created the first time
            for message in (started.user_message, started.reply):
                if message is not None:
                    payload = protocol.message_payload(message)
                    await self.send(text_data=protocol.created_frame(payload, frame.request_id))

    # --- frames to the client -----------------------------------------------

    async def read_state(self) -> tuple[Conversation, list[Message]] | None:
        return await database_sync_to_async(selectors.conversation_with_messages)(
            user=self.user, conversation_id=self.conversation_id
        )

    async def send_snapshot(self, state: tuple[Conversation, list[Message]] | None = None) -> None:
        """The conversation as it stands, live text included; from then on only newer deltas."""
        state = state or await self.read_state()
        if state is None:
            raise ProtocolError("not_found", "This conversation does not exist.")
        conversation, messages = state
        payloads = [protocol.message_payload(message) for message in messages]
        self.seen: dict[str, int] = {}  # last seq forwarded per streaming reply
        self.shown = {payload["id"] for payload in payloads}  # ids whose message.created is old news
        for payload in payloads:
            if payload["status"] == "streaming":
                live = await generation.live_state(payload["id"])
                if live is not None and live[1] >= payload["seq"]:
                    payload["content"], payload["seq"] = live
                self.seen[payload["id"]] = payload["seq"]
            elif payload["role"] == "assistant":
                self.seen[payload["id"]] = FINISHED
        await self.send(text_data=protocol.snapshot_frame(protocol.conversation_payload(conversation), payloads))

    async def chat_delta(self, event: dict[str, Any]) -> None:
        """Forward a delta once, in order; a gap means a broadcast was lost, so resend the snapshot."""
        if not self.accepted:
            return
        last = self.seen.get(event["id"])
        seq = event["seq"]
        if last is not None and seq == last + 1:
            self.seen[event["id"]] = seq
            await self.send(text_data=event["frame"])
        elif last is None or seq > last + 1:
            await self.send_snapshot()

    async def chat_frame(self, event: dict[str, Any]) -> None:
        """A whole frame; `opens` starts tracking a new reply, `done` ends it."""
        if not self.accepted:
            return
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

    async def session_revoked(self, event: dict[str, Any]) -> None:
        await self.guard.on_revoked(event)
