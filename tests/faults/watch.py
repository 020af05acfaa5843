"""What a user sees of one conversation during a fault: every frame, applied as the browser does."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import psycopg
import websockets

from conversations.models import Message
from tests.wsclient import LiveSocket, ReplyView


def echoed(words: int, *, tps: float, ttft: float) -> tuple[str, str]:
    """A message asking the simulator to stream back exactly `text`, and that text."""
    text = " ".join(f"w{n:04d}" for n in range(words))
    return f"!sim echo=1 tps={tps} ttft={ttft}\n{text}", text


class Watcher:
    """A socket on one conversation, read in the background into a ReplyView.

    For each reply it keeps the text the user had on screen when its `message.completed` arrived,
    and that frame's message, so a test can check the completed text never shrank what was shown.
    """

    def __init__(self, socket: LiveSocket) -> None:
        self.socket = socket
        self.view = ReplyView()
        self.shown_before: dict[str, str] = {}
        self.completed: dict[str, dict] = {}
        self.parts: dict[str, list[dict]] = {}  # each reply's parts as its last `message.parts` frame gave them
        self.snapshotted = False
        self.changed = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self.read())

    @classmethod
    async def open(cls, server, conversation_id: str, cookie: str) -> Watcher:
        watcher = cls(await LiveSocket.open(server, conversation_id, cookie))
        await watcher.until(lambda: watcher.snapshotted)
        return watcher

    async def read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                frame = await self.socket.receive(timeout=600)
                if frame["type"] == "message.completed":
                    message_id = frame["message"]["id"]
                    self.shown_before[message_id] = self.view.messages.get(message_id, {}).get("content", "")
                    self.completed[message_id] = frame["message"]
                if frame["type"] == "message.parts":
                    self.parts[frame["message_id"]] = frame["parts"]
                self.snapshotted |= frame["type"] == "conversation.snapshot"
                self.view.apply(frame)
                self.changed.set()

    async def until(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                await self.changed.wait()

    def reply_id(self) -> str | None:
        replies = [m["id"] for m in self.view.messages.values() if m["role"] == "assistant"]
        return replies[-1] if replies else None

    def text(self) -> str:
        reply_id = self.reply_id()
        return self.view.messages[reply_id]["content"] if reply_id else ""

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(Exception):
            await self.socket.close()


def saved_reply(database_url: str, reply_id: str, *columns: str) -> tuple:
    """The reply's status, content and error (or the `columns` named) as saved, read straight from
    the private database."""
    table = Message._meta.db_table
    names = ", ".join(columns or ("status", "content", "error"))
    with psycopg.connect(database_url, connect_timeout=5) as connection:
        row = connection.execute(f"SELECT {names} FROM {table} WHERE id = %s", [reply_id]).fetchone()
    return row
