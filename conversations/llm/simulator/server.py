"""The simulator's HTTP/1.1 server on raw asyncio: routing, failures on demand, keep-alive."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from typing import Any, cast

from ..config import SimulatorDefaults
from .directives import Directives, parse_directives
from .reply import ReplyStream, plan_reply
from .requests import BadRequest, Request, take_request
from .script import MODEL_NAME
from .ticker import Ticker
from .wire import error_body, json_response

logger = logging.getLogger(__name__)

MODELS = {"object": "list", "data": [{"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "parley"}]}


class SimulatorServer:
    """A running simulator: `.port` to reach it, `.close()` to stop it and drop open streams."""

    def __init__(self, defaults: SimulatorDefaults) -> None:
        self.defaults = defaults
        self.failures: dict[str, int] = {}  # directive line -> failures already served (fail_times)
        self.connections: set[SimulatorConnection] = set()
        self.ticker = Ticker(asyncio.get_running_loop())
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def listen(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: SimulatorConnection(self), host, port, backlog=4096)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.abort()
        self.ticker.close()

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    def should_fail(self, directives: Directives) -> int | None:
        """The status to fail this request with, counting `fail_times` per directive line."""
        if directives.fail is None and directives.fail_times is None:
            return None
        status = directives.fail or 503
        if directives.fail_times is None:
            return status
        served = self.failures.get(directives.line, 0)
        if served >= directives.fail_times:
            return None
        self.failures[directives.line] = served + 1
        return status


async def start_simulator(
    host: str = "127.0.0.1", port: int = 0, *, defaults: SimulatorDefaults | None = None, **overrides: Any
) -> SimulatorServer:
    """Start listening in the running loop; `overrides` (tps, ttft, tokens, seed) replace `defaults`."""
    server = SimulatorServer(dataclasses.replace(defaults or SimulatorDefaults(), **overrides))
    await server.listen(host, port)
    logger.info("LLM simulator listening on http://%s:%d/v1", host, server.port)
    return server


class SimulatorConnection(asyncio.Protocol):
    """One client connection; requests are answered one at a time, in order."""

    def __init__(self, server: SimulatorServer) -> None:
        self._server = server
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._reply: ReplyStream | None = None
        self._keep_alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        self._server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._reply is not None:
            self._reply.closed = True
        self._server.connections.discard(self)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._reply is None:
            self._serve_next()

    def _serve_next(self) -> None:
        assert self._transport is not None
        while self._reply is None and not self._transport.is_closing():
            try:
                request = take_request(self._buffer)
            except BadRequest as exc:
                self._respond(400, error_body(400, str(exc)), keep_alive=False)
                return
            if request is None:
                return
            self._route(request)

    def _route(self, request: Request) -> None:
        if request.path.rstrip("/") in ("/v1/models", "/models") and request.method == "GET":
            self._respond(200, MODELS, keep_alive=request.keep_alive)
        elif request.path.rstrip("/") in ("/v1/chat/completions", "/chat/completions"):
            if request.method != "POST":
                self._respond(405, error_body(405, "Use POST."), keep_alive=request.keep_alive)
            else:
                self._chat(request)
        else:
            self._respond(404, error_body(404, f"No route {request.path}."), keep_alive=request.keep_alive)

    def _chat(self, request: Request) -> None:
        try:
            body = json.loads(request.body)
            directives = parse_directives(body.get("messages") or [])
        except (ValueError, AttributeError):
            self._respond(400, error_body(400, "The body must be a JSON object."), keep_alive=request.keep_alive)
            return
        status = self._server.should_fail(directives)
        if status is not None:
            extra = {"retry-after": "0"} if status == 429 else None
            message = f"Simulated failure (HTTP {status})."
            self._respond(status, error_body(status, message), keep_alive=request.keep_alive, extra=extra)
            return
        if not body.get("stream"):
            self._respond(
                400, error_body(400, "The simulator only streams; send stream: true."), keep_alive=request.keep_alive
            )
            return
        plan = plan_reply(body, directives, self._server.defaults)
        assert self._transport is not None
        self._keep_alive = request.keep_alive
        self._reply = ReplyStream(self._transport, plan, self._server.ticker, request.keep_alive, self._reply_done)
        self._reply.start(asyncio.get_running_loop().time())

    def _reply_done(self) -> None:
        self._reply = None
        assert self._transport is not None
        if self._keep_alive:
            asyncio.get_running_loop().call_soon(self._serve_next)
        else:
            self._transport.close()

    def _respond(self, status: int, payload: object, *, keep_alive: bool, extra: dict[str, str] | None = None) -> None:
        assert self._transport is not None
        self._transport.write(json_response(status, payload, keep_alive=keep_alive, extra=extra))
        if not keep_alive:
            self._transport.close()
