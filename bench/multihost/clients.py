"""The run's users: one socket per conversation through the balancer, reconnecting as a browser does.

Each socket is opened to https://chat.example.com through nginx, with the run's CA, from one of
the bridge's client addresses. Frames are applied the way the page applies them (ReplyView), and
what the user had on screen is kept, so the checks can compare it with what was saved.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import ssl
import uuid
from dataclasses import dataclass, field

import websockets

from tests.wsclient import ReplyView

from .balancer import SERVER_NAME
from .network import BALANCER, CLIENTS

RECONNECT_DELAY = (0.5, 1.5)  # seconds, jittered, as the page's first retry


def echoed(index: int, words: int, tps: float) -> tuple[str, str]:
    """A message asking the simulator to stream back exactly `text`, and that text (unique per conversation)."""
    text = " ".join(f"c{index}w{n}" for n in range(words))
    return f"!sim echo=1 tps={tps:g} ttft=0.1\n{text}", text


@dataclass
class Conversation:
    """One user's conversation and everything its socket showed."""

    index: int
    id: str
    session: str
    message: str
    text: str  # the reply the simulator streams
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    view: ReplyView = field(default_factory=ReplyView)
    reply_id: str | None = None
    shown: str = ""  # the longest text of the reply the user had on screen before its final frame
    snapshots: int = 0
    reconnects: int = 0
    gaps: int = 0  # deltas whose seq skipped: the page would have to sync
    socket: websockets.ClientConnection | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def reply(self) -> dict | None:
        return self.view.messages.get(self.reply_id) if self.reply_id else None

    @property
    def status(self) -> str | None:
        return self.reply["status"] if self.reply else None

    def apply(self, frame: dict) -> None:
        mine = frame["type"] == "message.created" and frame.get("request_id") == self.request_id
        if mine and frame["message"]["role"] == "assistant":
            self.reply_id = frame["message"]["id"]
        self.snapshots += frame["type"] == "conversation.snapshot"
        self.view.apply(frame)
        self.gaps += self.view.needs_sync
        self.view.needs_sync = False
        reply = self.reply
        if reply and reply["status"] == "streaming" and len(reply["content"]) > len(self.shown):
            self.shown = reply["content"]
        self.changed.set()

    async def until(self, condition, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                await self.changed.wait()

    async def send(self, **frame) -> None:
        await self.socket.send(json.dumps(frame))


async def open_socket(conversation: Conversation, tls: ssl.SSLContext) -> websockets.ClientConnection:
    return await websockets.connect(
        f"wss://{SERVER_NAME}/ws/conversations/{conversation.id}/",
        host=BALANCER,  # chat.example.com resolves to the balancer, as DNS would say
        port=443,
        ssl=tls,
        local_addr=(CLIENTS[conversation.index % len(CLIENTS)], 0),
        additional_headers={"Cookie": f"sessionid={conversation.session}"},
        origin=f"https://{SERVER_NAME}",
        max_size=None,
        max_queue=None,
        open_timeout=30,
        ping_interval=None,  # a browser sends no pings: it answers daphne's
    )


async def follow(conversation: Conversation, tls: ssl.SSLContext, done: asyncio.Event) -> None:
    """Keep the conversation's socket open until `done`, reconnecting after every close."""
    first = True
    while not done.is_set():
        if not first:
            await asyncio.sleep(random.uniform(*RECONNECT_DELAY))
        try:
            conversation.socket = await open_socket(conversation, tls)
        except (OSError, TimeoutError, websockets.WebSocketException):
            first = False
            continue
        conversation.reconnects += not first
        first = False
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in conversation.socket:
                conversation.apply(json.loads(raw))
        conversation.socket = None
        conversation.changed.set()


async def close(conversation: Conversation) -> None:
    if conversation.socket is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conversation.socket.close(), 5)
