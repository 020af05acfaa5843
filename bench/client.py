"""The load generator: N conversations, each sends one message and checks every stamped token.

The simulator stamps token i as "i:<emit time ns> ", so the client can tell loss, duplication
and reordering by index and measure added latency as receive time minus emit time.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from array import array
from dataclasses import dataclass, field, fields

from websockets.asyncio.client import ClientConnection, connect


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    cookie: str | None = None  # "sessionid=..." for Parley; baselines need none
    origin: str | None = None
    # Through a load balancer (bench/multihost): its address for the URL's host name, the TLS
    # context that trusts its certificate, and the client's own source address.
    address: tuple[str, int] | None = None
    tls: ssl.SSLContext | None = None
    source: str | None = None

    def connection_options(self) -> dict:
        options: dict = {"ssl": self.tls} if self.tls else {}
        if self.address:
            options.update(host=self.address[0], port=self.address[1])
        if self.source:
            options["local_addr"] = (self.source, 0)
        return options


@dataclass(slots=True)
class Tally:
    """Counts over all conversations of one run; any non-zero failure field breaks the run."""

    clients: int = 0
    connect_errors: int = 0
    completed: int = 0
    timeouts: int = 0
    errors: int = 0  # error frames or dropped sockets during the reply
    tokens_expected: int = 0
    tokens_delivered: int = 0  # distinct indexes received in deltas or healed by a snapshot
    duplicates: int = 0
    reordered: int = 0
    bad_final: int = 0  # message.completed whose content is not exactly tokens 1..L in order
    seq_gaps: int = 0  # delta seq jumps; the client syncs and heals them as protocol v1 says
    healed: int = 0  # tokens first received inside such a snapshot
    frames: int = 0
    error_samples: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.tokens_expected - self.tokens_delivered

    @property
    def failed(self) -> bool:
        return bool(
            self.connect_errors
            or self.timeouts
            or self.errors
            or self.lost
            or self.duplicates
            or self.reordered
            or self.bad_final
        )

    def note(self, error: str) -> None:
        if len(self.error_samples) < 5:
            self.error_samples.append(error)

    def as_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(lost=self.lost, failed=self.failed)
        return data


def _headers(target: Target) -> dict[str, str]:
    return {"Cookie": target.cookie} if target.cookie else {}


async def open_one(target: Target, timeout: float) -> ClientConnection:
    """Connect and wait for the snapshot that protocol v1 sends first."""
    async with asyncio.timeout(timeout):
        ws = await connect(
            target.url,
            additional_headers=_headers(target),
            origin=target.origin,
            compression=None,
            ping_interval=None,
            max_size=2**24,
            open_timeout=None,
            **target.connection_options(),
        )
        first = json.loads(await ws.recv())
    if first.get("type") != "conversation.snapshot":
        await ws.close()
        raise RuntimeError(f"first frame was {first.get('type')!r}")
    return ws


async def open_all(
    targets: list[Target], tally: Tally, *, concurrency: int = 200, timeout: float = 60.0
) -> list[ClientConnection | None]:
    """Open every connection, `concurrency` handshakes at a time; failures become None."""
    gate = asyncio.Semaphore(concurrency)

    async def guarded(target: Target) -> ClientConnection | None:
        async with gate:
            try:
                return await open_one(target, timeout)
            except Exception as error:
                tally.connect_errors += 1
                tally.note(f"connect: {type(error).__name__}: {error}"[:200])
                return None

    tally.clients += len(targets)
    return list(await asyncio.gather(*(guarded(t) for t in targets)))


@dataclass
class Latencies:
    """Per token: receive time minus the simulator's emit time. Per reply: the first token's
    receive time minus the send time, less the simulator's set time to first token, which is what
    the server added before the reply began (saving the message, opening the upstream stream)."""

    tokens: array = field(default_factory=lambda: array("d"))
    first_token: array = field(default_factory=lambda: array("d"))
    sent: array = field(default_factory=lambda: array("d"))  # when each message.send went out (ns)
    created: array = field(default_factory=lambda: array("d"))  # when each send's message.created came (ns)

    def starts_per_s(self) -> float | None:
        """Sends the server answered with message.created, per second from the first send to the last answer."""
        if not self.created:
            return None
        span = (max(self.created) - min(self.sent)) / 1e9
        return len(self.created) / span if span > 0 else None


class Reader:
    """One conversation's view of its reply, applied the way a protocol v1 client must."""

    def __init__(self, expected: int, latencies: array) -> None:
        self.expected = expected
        self.seen = bytearray(expected + 1)
        self.high = 0
        self.seq = 0
        self.latencies = latencies

    def tokens(self, text: str, now_ns: int, tally: Tally) -> None:
        for piece in text.split():
            index_text, _, stamp = piece.partition(":")
            index = int(index_text)
            if not 0 < index <= self.expected or self.seen[index]:
                tally.duplicates += 1
                continue
            self.seen[index] = 1
            tally.tokens_delivered += 1
            if index < self.high:
                tally.reordered += 1
            self.high = max(self.high, index)
            self.latencies.append((now_ns - int(stamp)) / 1e6)

    def heal(self, content: str, tally: Tally) -> None:
        """Tokens first seen in a snapshot count as delivered (late, so without a latency)."""
        for piece in content.split():
            index = int(piece.partition(":")[0])
            if 0 < index <= self.expected and not self.seen[index]:
                self.seen[index] = 1
                tally.tokens_delivered += 1
                tally.healed += 1

    def final_ok(self, content: str) -> bool:
        indexes = [piece.partition(":")[0] for piece in content.split()]
        return indexes == [str(i) for i in range(1, self.expected + 1)]


async def converse(
    ws: ClientConnection, content: str, expected: int, delay: float, ttft: float, tally: Tally, latencies: Latencies
) -> None:
    """Send one message and read its reply to message.completed, checking every token."""
    reader = Reader(expected, latencies.tokens)
    tally.tokens_expected += expected
    await asyncio.sleep(delay)
    sent = time.time_ns()
    latencies.sent.append(sent)
    await ws.send(json.dumps({"type": "message.send", "content": content, "request_id": "bench-1"}))
    async for raw in ws:
        now = time.time_ns()
        tally.frames += 1
        frame = json.loads(raw)
        kind = frame["type"]
        if kind == "message.delta":
            if frame["seq"] == reader.seq + 1:
                if reader.seq == 0:
                    latencies.first_token.append((now - sent) / 1e6 - ttft * 1000)
                reader.seq += 1
                reader.tokens(frame["delta"], now, tally)
            elif frame["seq"] > reader.seq + 1:
                tally.seq_gaps += 1
                await ws.send('{"type": "sync"}')
        elif kind == "message.created" and frame["message"]["role"] == "user":
            latencies.created.append(now)
        elif kind == "conversation.snapshot":
            heal(frame, reader, tally)
        elif kind == "message.completed" and frame["message"]["role"] == "assistant":
            tally.completed += 1
            if not reader.final_ok(frame["message"]["content"]):
                tally.bad_final += 1
            return
        elif kind == "error":
            raise RuntimeError(f"error frame {frame.get('code')}: {frame.get('detail')}")
    raise RuntimeError("socket closed before message.completed")


def heal(snapshot: dict, reader: Reader, tally: Tally) -> None:
    """A snapshot after a gap carries the reply's text so far; adopt its seq and its tokens."""
    for message in snapshot["messages"]:
        if message["role"] == "assistant" and message["status"] == "streaming":
            reader.heal(message["content"], tally)
            reader.seq = max(reader.seq, message["seq"])


async def run_conversations(
    conns: list[ClientConnection | None],
    content: str,
    expected: int,
    tally: Tally,
    *,
    ramp: float,
    ttft: float,
    timeout: float,
) -> Latencies:
    """Every open connection sends at an offset spread over `ramp` seconds; returns latencies (ms)."""
    latencies = Latencies()
    live = [ws for ws in conns if ws is not None]

    async def one(i: int, ws: ClientConnection) -> None:
        try:
            async with asyncio.timeout(timeout):
                await converse(ws, content, expected, ramp * i / max(len(live), 1), ttft, tally, latencies)
        except TimeoutError:
            tally.timeouts += 1
        except Exception as error:
            tally.errors += 1
            tally.note(f"reply: {type(error).__name__}: {error}"[:200])

    await asyncio.gather(*(one(i, ws) for i, ws in enumerate(live)))
    return latencies


async def close_all(conns: list[ClientConnection | None]) -> None:
    async def close(ws: ClientConnection) -> None:
        try:
            async with asyncio.timeout(5):
                await ws.close()
        except Exception:
            ws.transport.abort()

    await asyncio.gather(*(close(ws) for ws in conns if ws is not None))


def percentiles(values: array) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "max": None}
    ordered = sorted(values)
    last = len(ordered) - 1
    return {"p50": ordered[int(0.50 * last)], "p99": ordered[int(0.99 * last)], "max": ordered[last]}
