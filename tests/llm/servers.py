"""Real servers for the network tests: a raw TCP/TLS server, a certificate authority, a forward proxy."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import trustme

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class RawServer:
    """Runs `handler` per connection and counts connections; plain TCP, or TLS with `tls`."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.ended = asyncio.Event()  # set when a handler ends (the client closed or reset)

    async def start(self, tls: ssl.SSLContext | None = None, host: str = "localhost") -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=tls)
        self.port = self.server.sockets[0].getsockname()[1]
        return f"{'https' if tls else 'http'}://{host}:{self.port}"

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            self.ended.set()
            writer.close()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0
    )
    return head + await reader.readexactly(length)


async def answer_ok_forever(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        await read_request(reader)
        writer.write(OK)
        await writer.drain()


def sse_chunk(content: str | None = None, finish: str | None = None) -> bytes:
    """One Chat Completions stream event."""
    delta = {} if content is None else {"content": content}
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return b"data: " + json.dumps({"model": "gpt-test", "choices": [choice]}).encode() + b"\n\n"


REPLY_EVENTS = [sse_chunk("Hello"), sse_chunk(", world"), sse_chunk(None, "stop"), b"data: [DONE]\n\n"]


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts)


async def answer_replies_forever(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A Chat Completions server: every request gets REPLY, chunked, on a kept-alive connection."""
    while True:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        writer.write(chunked(*REPLY_EVENTS) + b"0\r\n\r\n")
        await writer.drain()


class Authority:
    """A certificate authority made for the test, with a server certificate and a client certificate."""

    def __init__(self, directory: Path) -> None:
        self.ca = trustme.CA()
        self.bundle = directory / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.bundle))
        self.server_cert = self.ca.issue_cert("localhost", "127.0.0.1")
        self.server_pem = directory / "server.pem"
        self.server_cert.private_key_and_cert_chain_pem.write_to_path(str(self.server_pem))
        client = self.ca.issue_cert("parley-client@example.com")
        self.client_combined = directory / "client-with-key.pem"
        client.private_key_and_cert_chain_pem.write_to_path(str(self.client_combined))
        self.client_cert, self.client_key = directory / "client.pem", directory / "client.key"
        client.cert_chain_pems[0].write_to_path(str(self.client_cert))
        client.private_key_pem.write_to_path(str(self.client_key))

    def server_context(self, *, require_client_cert: bool = False) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server_cert.configure_cert(context)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            self.ca.configure_trust(context)
        return context


class ProxyProcess:
    """proxy.py (from PyPI) on a free loopback port; its access log shows every request it carried."""

    def __init__(self, directory: Path) -> None:
        self.log = directory / "proxy.log"
        port_file = directory / "proxy.port"
        command = [sys.executable, "-m", "proxy", "--hostname", "127.0.0.1", "--port", "0"]
        command += ["--port-file", str(port_file), "--num-acceptors", "1", "--num-workers", "1"]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self.port = _wait_for_port(port_file, self.process)
        self.url = f"http://127.0.0.1:{self.port}"

    def logged(self) -> str:
        return self.log.read_text(errors="replace")

    async def wait_logged(self, fragment: str, timeout: float = 5.0) -> None:
        """Until the access log has a line with `fragment` (it writes one as each request ends)."""
        async with asyncio.timeout(timeout):
            while fragment not in self.logged():  # noqa: ASYNC110  (another process's file)
                await asyncio.sleep(0.02)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def _wait_for_port(port_file: Path, process: subprocess.Popen) -> int:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("proxy.py exited at start-up")
        if port_file.exists() and port_file.read_text().strip():
            port = int(port_file.read_text())
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return port
        time.sleep(0.05)
    raise RuntimeError("proxy.py did not start listening")


def free_port_socket() -> socket.socket:
    """A bound, listening loopback socket on a free port, to hand to a server by file descriptor."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(100)
    return sock
