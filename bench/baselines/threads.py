"""Baseline `threads`: thread per conversation, websockets' sync server and blocking httpx.

websockets.sync runs each connection in its own thread (plus one reader thread), and the
reply streams upstream with a blocking httpx call inside that thread.
Run: python -m bench.baselines.threads --port P --upstream http://127.0.0.1:S/v1
"""

from __future__ import annotations

import argparse
import json
import socket

import httpx
from websockets.sync.server import ServerConnection, serve

from . import frames
from .sse import DONE, text_of


def handle(ws: ServerConnection, client: httpx.Client, upstream: str) -> None:
    conversation_id = ws.request.path.rstrip("/").rsplit("/", 1)[-1]
    ws.send(json.dumps(frames.snapshot(conversation_id)))
    for text in ws:
        frame = json.loads(text)
        if frame.get("type") == "message.send":
            reply(ws, client, upstream, frame)


def reply(ws: ServerConnection, client: httpx.Client, upstream: str, frame: dict) -> None:
    request_id = frame.get("request_id")
    ws.send(json.dumps(frames.created(frames.message("user", frame["content"]), request_id)))
    msg = frames.message("assistant", status="streaming")
    ws.send(json.dumps(frames.created(msg, request_id)))
    parts: list[str] = []
    body = frames.upstream_request(frame["content"])
    with client.stream("POST", f"{upstream}/chat/completions", json=body) as response:
        for line in response.iter_lines():
            text = text_of(line)
            if text is DONE:
                break
            if text:
                parts.append(text)
                ws.send(json.dumps(frames.delta(msg["id"], len(parts), text)))
    msg.update(content="".join(parts), seq=len(parts), status="complete")
    ws.send(json.dumps(frames.completed(msg)))


def main(port: int, upstream: str) -> None:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    sock = socket.create_server(("127.0.0.1", port), backlog=4096)
    with httpx.Client(limits=limits, timeout=60) as client:
        handler = lambda ws: handle(ws, client, upstream)  # noqa: E731
        with serve(handler, sock=sock, compression=None) as server:
            server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="OpenAI-compatible API root, e.g. http://h:p/v1")
    args = parser.parse_args()
    main(args.port, args.upstream)
