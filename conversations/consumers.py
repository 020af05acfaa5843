"""The WebSocket endpoint: a thin adapter between protocol v1 and the generation service.

It authenticates, validates frames, subscribes to the conversation's group and relays
pre-serialised frames. It never runs the model: `generation` starts, stops and runs replies.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from chatsite.compat import SkipPerMessageConnectionClose

from . import failures, generation, metrics, protocol, selectors, services
from .models import Message
from .protocol import ProtocolError
from .realtime import fairness, local
from .realtime.broadcast import conversation_group
from .realtime.fallback import LiveSyncFallback
from .revocation import SessionGuard

logger = logging.getLogger(__name__)

FINISHED = 2**62  # the seq recorded for finished replies, so their late deltas are ignored
FAIR_USE = 4429  # close code of a socket refused by a per-user limit: retry later, not at once
MINUTE = 60.0
TOO_MANY_SNAPSHOTS = "Too many reloads and reconnects in the last minute; this tab retries shortly."


class ConversationConsumer(LiveSyncFallback, SkipPerMessageConnectionClose, AsyncWebsocketConsumer):
    accepted = False  # until connect() accepts; broadcasts reaching a socket being refused are dropped
    elsewhere: frozenset[str] = frozenset()  # replies streaming on a branch this client is not shown
    later: asyncio.Task | None = None  # a folded `sync` answer waiting for its turn (SnapshotPacer)
    ledger: fairness.Ledger | None = None  # the user's fair-use counts, once connect() claimed a socket
    watch_all = False  # `?watch=all`: also relay changes to the owner's other conversations (sidebars)

    async def connect(self) -> None:
        """Subscribe, then read the snapshot, so no delta published after the read can be missed."""
        self.user = self.scope.get("user")
        self.conversation_id = self.scope["url_route"]["kwargs"]["conversation_id"]
        self.watch_all = parse_qs(self.scope.get("query_string", b"").decode("latin-1")).get("watch") == ["all"]
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
        if not await self.within_fair_use():
            return
        self.bucket = fairness.TokenBucket(settings.PARLEY_WS_RATE)
        self.pacer = fairness.SnapshotPacer(settings.PARLEY_SYNC_INTERVAL)
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

    async def within_fair_use(self) -> bool:
        """Claim one of the user's sockets and a snapshot from their budget, or say why not and close."""
        self.ledger = (await generation.get_worker()).ledger
        self.claim = uuid.uuid4().hex
        cap = settings.PARLEY_MAX_SOCKETS_PER_USER
        if not await self.ledger.claim_socket(self.user.pk, self.claim, cap):
            detail = f"You already have {cap} connections open; close some tabs, then reload."
        elif not await self.take_snapshot():
            detail = TOO_MANY_SNAPSHOTS
        else:
            return True
        await self.leave_conversation()
        await self.refuse_fair_use(detail)
        return False

    async def refuse_fair_use(self, detail: str) -> None:
        """Accept only to say why (a refused handshake cannot carry words), then close with FAIR_USE."""
        await self.accept()
        await self.send(text_data=protocol.error_frame("limit_reached", detail))
        await self.close(code=FAIR_USE)

    async def take_snapshot(self) -> bool:
        return await self.ledger.take(self.user.pk, "snapshots", MINUTE, settings.PARLEY_SNAPSHOTS_PER_MINUTE)

    async def disconnect(self, code: int) -> None:
        if self.later is not None:
            self.later.cancel()
        if self.ledger is not None:
            await self.ledger.release_socket(self.user.pk, self.claim)
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

    # --- frames from the client ---------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Answer every frame that is refused or fails with one error frame echoing its request_id."""
        request_id = None
        try:
            if not self.bucket.allow():
                raise ProtocolError("rate_limited", "Too many frames; slow down.", self.request_id_of(text_data))
            if self.ledger and not await self.ledger.take(self.user.pk, "frames", 1.0, settings.PARLEY_WS_USER_RATE):
                detail = "Too many frames from all your open tabs together; slow down."
                raise ProtocolError("rate_limited", detail, self.request_id_of(text_data))
            if text_data is None:
                raise ProtocolError("invalid_json", "Binary frames are not supported; send JSON text.")
            frame = protocol.parse_client_frame(text_data, max_bytes=settings.PARLEY_WS_MAX_FRAME)
            request_id = frame.request_id
            await failures.answer_within(self.handle(frame), settings.PARLEY_ANSWER_TIMEOUT)
        except Exception as error:
            await self.answer_error(error, request_id)

    async def answer_error(self, error: Exception, request_id: str | None) -> None:
        """The one error frame for a refused or failed frame, always echoing its request_id."""
        if isinstance(error, ProtocolError):
            code, detail = error.code, error.detail
            request_id = error.request_id if error.request_id is not None else request_id
        elif (detail := failures.unavailable_detail(error)) is not None:
            logger.warning("Frame refused, a service is down: %r", error)
            code = failures.UNAVAILABLE
        else:
            logger.error("Frame handling failed", exc_info=error)
            code, detail = "internal_error", INTERNAL_ERROR
        await self.send(text_data=protocol.error_frame(code, detail, request_id))

    @staticmethod
    def request_id_of(text_data: str | None) -> str | None:
        if text_data is None or len(text_data) > settings.PARLEY_WS_MAX_FRAME:
            return None
        return protocol.request_id_of(text_data)

    async def handle(self, frame: protocol.ClientFrame) -> None:
        """One client frame; the generation service decides, refusals become error frames."""
        if frame.type == "sync":
            await self.answer_sync(frame.request_id)
            return
        try:
            started = await self.dispatch_action(frame)
        except generation.Refused as refusal:
            raise ProtocolError(refusal.code, refusal.detail, frame.request_id) from None
        if started is not None:
            await self.answer_started(started, frame.request_id)

    async def answer_sync(self, request_id: str | None) -> None:
        """A snapshot now, or folded into the one due when this socket's PARLEY_SYNC_INTERVAL ends."""
        wait = self.pacer.delay()
        if wait is None:
            return
        if wait == 0:
            await self.budgeted_snapshot(request_id)
        else:
            self.later = asyncio.get_running_loop().create_task(self.folded_snapshot(wait, request_id))

    async def folded_snapshot(self, wait: float, request_id: str | None) -> None:
        await asyncio.sleep(wait)
        try:
            await self.budgeted_snapshot(request_id)
        except Exception as error:
            await self.answer_error(error, request_id)
        finally:
            self.later = None

    async def budgeted_snapshot(self, request_id: str | None) -> None:
        self.pacer.sent()
        if not await self.take_snapshot():
            detail = "Too many snapshots asked for from all your open tabs; try again in a minute."
            raise ProtocolError("rate_limited", detail, request_id)
        await self.send_snapshot()

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
                    payload.update(protocol.live_fields(message, *live, await generation.preview_parts(payload["id"])))
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

    async def first_text(self, event: dict[str, Any]) -> None:
        """A reply's first text, handed over by this process's broadcaster before its copy through
        Redis arrives (realtime/local.py). Taken only by a socket already following the reply, so
        it never costs a snapshot; the copy is then dropped by seq in chat_delta."""
        if self.accepted and self.seen.get(event["id"]) == event["seq"] - 1:
            await self.chat_delta(event)

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

    async def owner_conversation(self, event: dict[str, Any]) -> None:
        """Another of the owner's conversations changed (realtime/owner_updates.py): for the sidebar.
        A change to this socket's own conversation already came through its group."""
        if self.accepted and self.watch_all and event["conversation_id"] != str(self.conversation_id):
            await self.send(text_data=event["frame"])

    async def session_revoked(self, event: dict[str, Any]) -> None:
        await self.guard.on_revoked(event)


INTERNAL_ERROR = "The server could not handle that frame."
