"""Baseline `floor`: bare asyncio, websockets + httpx.AsyncClient, one frame per upstream chunk.

No Django, no Redis, no database: the least work a Python server can do for this workload.
Run: python -m bench.baselines.floor --port P --upstream http://127.0.0.1:S/v1
"""

from __future__ import annotations

import argparse
import asyncio
import json

import httpx
from websockets.asyncio.server import ServerConnection, serve

from . import frames
from .sse import DONE, text_of


async def handle(ws: ServerConnection, client: httpx.AsyncClient, upstream: str) -> None:
    conversation_id = ws.request.path.rstrip("/").rsplit("/", 1)[-1]
    await ws.send(json.dumps(frames.snapshot(conversation_id)))
    async for text in ws:
        frame = json.loads(text)
        if frame.get("type") == "message.send":
            await reply(ws, client, upstream, frame)


async def reply(ws: ServerConnection, client: httpx.AsyncClient, upstream: str, frame: dict) -> None:
    request_id = frame.get("request_id")
    await ws.send(json.dumps(frames.created(frames.message("user", frame["content"]), request_id)))
    msg = frames.message("assistant", status="streaming")
    await ws.send(json.dumps(frames.created(msg, request_id)))
    parts: list[str] = []
    body = frames.upstream_request(frame["content"])
    async with client.stream("POST", f"{upstream}/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            text = text_of(line)
            if text is DONE:
                break
            if text:
                parts.append(text)
                await ws.send(json.dumps(frames.delta(msg["id"], len(parts), text)))
    msg.update(content="".join(parts), seq=len(parts), status="complete")
    await ws.send(json.dumps(frames.completed(msg)))


async def main(port: int, upstream: str) -> None:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        handler = lambda ws: handle(ws, client, upstream)  # noqa: E731
        async with serve(handler, "127.0.0.1", port, compression=None, backlog=4096) as server:
            await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="OpenAI-compatible API root, e.g. http://h:p/v1")
    args = parser.parse_args()
    asyncio.run(main(args.port, args.upstream))
