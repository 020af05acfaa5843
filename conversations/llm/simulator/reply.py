"""One streamed reply: what to send (the plan) and sending it on the shared ticker (the stream)."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..config import SimulatorDefaults
from .directives import Directives
from .images import describe_images
from .script import MODEL_NAME, markdown_reply, tokenize
from .ticker import Ticker
from .tools import SimulatedCall, recalled, tool_turn
from .wire import DONE, LAST_CHUNK, ChunkEncoder, chunk, stream_head


@dataclass(frozen=True, slots=True)
class ReplyPlan:
    tokens: Sequence[str]  # unused (empty) when `stamp` is on
    count: int
    tps: float
    ttft: float
    stamp: bool = False
    stop_after: int | None = None  # where reset / stall / error / drip takes over
    stop_mode: str = ""
    drip: float = 0.0
    finish_reason: str = "stop"
    include_usage: bool = False
    prompt_tokens: int = 0
    tool_calls: tuple[SimulatedCall, ...] = ()  # asked for after the tokens, instead of finishing
    tool_stall: bool = False  # send each call's name and half its arguments, then stall
    model: str = MODEL_NAME  # the model the request named, reported back as a real server does


def plan_reply(body: dict[str, Any], directives: Directives, defaults: SimulatorDefaults) -> ReplyPlan:
    """Merge server defaults, directives and the request's own limits into one plan."""
    d = directives
    calls, answer = tool_turn(body, d)
    if d.recall and not calls:
        answer = recalled(body)
    tokens: Sequence[str] = tokenize(d.echo_text) if d.echo else ()
    count = len(tokens) if d.echo else (d.tokens if d.tokens is not None else defaults.tokens)
    seen = describe_images(body) if answer is None and not calls and not d.echo else None
    if answer is not None or seen is not None:
        tokens = tokenize(answer if answer is not None else seen)
        count = len(tokens)
    elif calls and not d.echo:
        tokens, count = (), 0
    elif not d.echo and not d.stamp:
        tokens = markdown_reply(d.seed if d.seed is not None else defaults.seed, count)
    if d.nul:
        tokens = [token + "\x00" for token in tokens]
    cap = body.get("max_completion_tokens") or body.get("max_tokens")
    reason = "tool_calls" if calls else "stop"
    if isinstance(cap, int) and 0 < cap < count:
        count, reason = cap, "length"
    stop_after, stop_mode = _stop(d)
    return ReplyPlan(
        tokens=tokens,
        count=count,
        tps=d.tps if d.tps is not None else defaults.tps,
        ttft=d.ttft if d.ttft is not None else defaults.ttft,
        stamp=bool(d.stamp),
        stop_after=stop_after,
        stop_mode=stop_mode,
        drip=d.drip or 0.0,
        finish_reason=reason,
        include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
        prompt_tokens=sum(len(str(m.get("content", "")).split()) for m in body.get("messages") or []),
        tool_calls=calls,
        tool_stall=bool(d.tool_stall),
        model=body["model"] if isinstance(body.get("model"), str) and body["model"] else MODEL_NAME,
    )


def _stop(d: Directives) -> tuple[int | None, str]:
    for mode, after in (("reset", d.reset_after), ("stall", d.stall_after), ("error", d.error_after)):
        if after is not None:
            return after, mode
    return (1, "drip") if d.drip else (None, "")


@lru_cache(maxsize=8192)
def _escaped(token: str) -> str:
    return json.dumps(token)


class ReplyStream:
    """Writes one reply's SSE events as they fall due; `closed` stops it when the client goes away."""

    def __init__(
        self, transport: asyncio.Transport, plan: ReplyPlan, ticker: Ticker, keep_alive: bool, done: Callable[[], None]
    ) -> None:
        self.closed = False
        self._transport = transport
        self._plan = plan
        self._ticker = ticker
        self._keep_alive = keep_alive
        self._done = done
        self._encoder = ChunkEncoder(f"chatcmpl-sim-{uuid.uuid4().hex[:12]}", int(time.time()), plan.model)
        self._sent = 0
        self._started = 0.0

    def start(self, now: float) -> None:
        self._transport.write(stream_head(self._keep_alive) + chunk(self._encoder.role()))
        self._started = now + self._plan.ttft
        self._ticker.call_at(self._started, self._step)

    def _step(self, now: float) -> None:
        if self.closed:
            return
        plan = self._plan
        end = plan.count if plan.stop_after is None else min(plan.count, plan.stop_after)
        # The ticker calls at the next token's time, so at least one is due even if rounding says otherwise.
        due = end if plan.tps <= 0 else min(end, max(int((now - self._started) * plan.tps) + 1, self._sent + 1))
        if due > self._sent:
            self._write_tokens(self._sent, due)
            self._sent = due
        if self._sent < end:
            self._ticker.call_at(self._started + self._sent / plan.tps, self._step)
        elif plan.stop_after is not None and plan.stop_after < plan.count:
            self._stop_early(now)
        else:
            self._finish()

    def _write_tokens(self, start: int, end: int) -> None:
        token = self._encoder.token
        if self._plan.stamp:
            events = [token(f'"{i}:{time.time_ns()} "') for i in range(start + 1, end + 1)]
        else:
            events = [token(_escaped(t)) for t in self._plan.tokens[start:end]]
        self._transport.write(chunk("".join(events).encode()))

    def _finish(self) -> None:
        plan = self._plan
        if plan.tool_stall and plan.tool_calls:  # half of each call, then nothing: a model stalled mid-call
            calls = (
                self._encoder.tool_call(i, c.id, c.name, c.arguments, first_half_only=True)
                for i, c in enumerate(plan.tool_calls)
            )
            self._transport.write(chunk(b"".join(calls)))
            return
        calls = b"".join(self._encoder.tool_call(i, c.id, c.name, c.arguments) for i, c in enumerate(plan.tool_calls))
        tail = calls + self._encoder.finish(plan.finish_reason)
        if plan.include_usage:
            tail += self._encoder.usage(plan.prompt_tokens, self._sent)
        self._transport.write(chunk(tail + DONE) + LAST_CHUNK)
        self.closed = True
        self._done()

    def _stop_early(self, now: float) -> None:
        mode = self._plan.stop_mode
        if mode == "reset":
            reset_connection(self._transport)
        elif mode == "error":
            message = f"Simulated error after {self._sent} tokens."
            self._transport.write(chunk(self._encoder.error(message)) + LAST_CHUNK)
            self.closed = True
            self._done()
        elif mode == "drip":
            self._transport.write(chunk(b":"))
            self._ticker.call_at(now + self._plan.drip, self._drip)
        # "stall": send nothing more and keep the connection open until the client leaves

    def _drip(self, now: float) -> None:
        if not self.closed:
            self._transport.write(chunk(b"."))
            self._ticker.call_at(now + self._plan.drip, self._drip)


def reset_connection(transport: asyncio.Transport) -> None:
    """Abort with a TCP RST (SO_LINGER 0), as a crashed upstream or a middlebox would."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
