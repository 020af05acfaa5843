"""The soak's users: each conversation sends replies of random length, sometimes stops one, and
follows every reply to its end across whatever process dies meanwhile, recording what was shown."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from dataclasses import dataclass, field

import websockets

from .cluster import Cluster, Parley

REPLY_DEADLINE = 180.0  # seconds a reply may take to end, faults included
STOP_SHARE = 0.2  # of replies the user stops midway


@dataclass(slots=True)
class Reply:
    """One reply as its user saw it."""

    request_id: str
    text: str  # what the simulator was asked to stream
    stopped: bool = False
    id: str | None = None
    shown: str = ""  # the longest text shown for it on any socket
    completed: dict | None = None


@dataclass(slots=True)
class Tally:
    replies: list[Reply] = field(default_factory=list)
    refused: int = 0  # sends answered with an error (a service was down): nothing was started
    reconnects: int = 0


def echo_request(rng: random.Random, max_words: int) -> tuple[str, str]:
    words = rng.randint(min(20, max_words), max_words)
    text = " ".join(f"{rng.choice('abcdefgh')}{n}" for n in range(words))
    return f"!sim echo=1 tps={rng.choice((30, 60, 120))} ttft=0.1\n{text}", text


class Follower:
    """Reads one socket into a reply: the text shown, and its `message.completed`."""

    def __init__(self, reply: Reply, connection, changed: asyncio.Event) -> None:
        self.reply = reply
        self.connection = connection
        self.changed = changed
        self.content = ""

    async def read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.connection:
                self.apply(json.loads(raw))
                self.changed.set()

    def apply(self, frame: dict) -> None:
        reply, kind = self.reply, frame["type"]
        if kind == "message.created" and frame["message"]["role"] == "assistant":
            if frame.get("request_id") == reply.request_id:
                reply.id, self.content = frame["message"]["id"], frame["message"]["content"]
        elif kind == "conversation.snapshot" and reply.id is not None:
            message = next((m for m in frame["messages"] if m["id"] == reply.id), None)
            self.content = message["content"] if message else self.content
            if message and message["status"] != "streaming":
                reply.completed = message
        elif kind == "message.delta" and frame["message_id"] == reply.id:
            self.content += frame["delta"]
        elif kind == "message.completed" and frame["message"]["id"] == reply.id:
            self.content = frame["message"]["content"]
            reply.completed = frame["message"]
        elif kind == "error" and frame.get("request_id") == reply.request_id:
            reply.completed = {"refused": frame.get("code")}
        self.show()

    def show(self) -> None:
        if len(self.content) > len(self.reply.shown):
            self.reply.shown = self.content


async def open_socket(process: Parley, conversation: str, cookie: str):
    return await websockets.connect(
        f"{process.ws_url}/ws/conversations/{conversation}/",
        additional_headers={"Cookie": f"sessionid={cookie}", "Origin": process.http_url},
        max_size=None,
        open_timeout=10,
    )


async def converse(
    cluster: Cluster,
    cookie: str,
    conversations: list[str],
    tally: Tally,
    until: float,
    seed: int,
    max_words: int = 300,
    turns: int = 0,
) -> None:
    """Send, watch and sometimes stop replies until `until` (loop time), moving on to the next of
    `conversations` after every `turns` messages sent (0: the first conversation only)."""
    rng, loop = random.Random(seed), asyncio.get_running_loop()
    sent = 0
    while loop.time() < until:
        conversation = conversations[min(sent // turns, len(conversations) - 1) if turns else 0]
        sent += 1
        content, text = echo_request(rng, max_words)
        reply = Reply(request_id=uuid.uuid4().hex, text=text, stopped=rng.random() < STOP_SHARE)
        # A reply no process answered in time, if it started, is still read back from the database.
        with contextlib.suppress(OSError, TimeoutError, websockets.WebSocketException):
            await follow(cluster, cookie, conversation, reply, content, rng, tally)
        if reply.id is None:
            tally.refused += 1
            await asyncio.sleep(1.0)
        else:
            tally.replies.append(reply)


async def follow(cluster, cookie, conversation, reply, content, rng, tally) -> None:
    """Send the message, then read the reply on one or two sockets, reconnecting as processes die."""
    changed, sent = asyncio.Event(), False
    async with asyncio.timeout(REPLY_DEADLINE):
        while reply.completed is None:
            live = cluster.live()
            if not live:
                await asyncio.sleep(0.5)
                continue
            connections = []
            for process in rng.sample(live, min(2, len(live))):  # a process may be starting or refusing
                with contextlib.suppress(OSError, TimeoutError, websockets.WebSocketException):
                    connections.append(await open_socket(process, conversation, cookie))
            if not connections:
                await asyncio.sleep(0.5)
                continue
            followers = [Follower(reply, connection, changed) for connection in connections]
            readers = [asyncio.create_task(follower.read()) for follower in followers]
            try:
                if not sent:  # a retried send carries the same request_id: the server starts it once
                    send = {"type": "message.send", "content": content, "request_id": reply.request_id}
                    with contextlib.suppress(websockets.ConnectionClosed):
                        await connections[0].send(json.dumps(send))
                        sent = True
                if sent:
                    await wait_for_end(reply, followers, readers, changed, rng)
            finally:
                for connection in connections:
                    await connection.close()
                await asyncio.gather(*readers, return_exceptions=True)
            if reply.completed is None:
                tally.reconnects += 1
    if "refused" in reply.completed:
        reply.id = None


async def wait_for_end(
    reply: Reply, followers: list[Follower], readers: list[asyncio.Task], changed: asyncio.Event, rng: random.Random
) -> None:
    """Until the reply ends or every socket closed; a reply to stop is stopped once some text showed."""
    stop_after = rng.randint(1, 200)  # characters shown before the user clicks Stop
    while reply.completed is None and not all(reader.done() for reader in readers):
        changed.clear()
        if reply.stopped and stop_after and reply.id is not None and len(reply.shown) > stop_after:
            with contextlib.suppress(websockets.ConnectionClosed):
                await followers[0].connection.send(json.dumps({"type": "generation.stop"}))
                stop_after = 0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), 1.0)
