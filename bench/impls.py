"""The implementations under test: how to start each one and whom the clients talk to."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import redis

from .checkouts import Checkout, verify
from .client import Target
from .procs import PYTHON, ROOT, SERVER_CORE, Tree, free_port, launch, stop, wait_port

IMPLEMENTATIONS = ("parley", "naive", "threads", "floor")
BENCH_SECRET = "bench-secret-key-for-throwaway-databases-only-0123456789"
PREPARE = ROOT / "bench" / "prepare.py"
# Runs this harness's prepare.py inside any Parley tree: `-c` puts the tree, the cwd, first on sys.path.
RUN_PREPARE = f"import runpy, sys; sys.argv[0] = {str(PREPARE)!r}; runpy.run_path(sys.argv[0], run_name='__main__')"


@dataclass
class World:
    """What every implementation shares in one benchmark run."""

    workdir: Path
    redis_url: str
    upstream: str  # OpenAI-compatible API root of the simulator
    parleys: dict[str, Checkout] = field(default_factory=dict)  # impl name -> its tree and database
    parley_overrides: dict[str, str] = field(default_factory=dict)  # --parley-env KEY=VALUE
    one_owner: bool = False  # --owners one: every conversation belongs to one user (the API and team workload)

    def parley_env(self, tree: Checkout, connections: int) -> dict[str, str]:
        return {
            "PYTHONPATH": str(tree.root),
            "DJANGO_SETTINGS_MODULE": "chatsite.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": BENCH_SECRET,
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": tree.database_url,
            "REDIS_URL": self.redis_url,
            "LLM_PROVIDER": "openai",
            "LLM_BASE_URL": self.upstream,
            "LLM_API_KEY": "bench",
            "LLM_MODEL": "sim",
            # The shipped pool (1000) would queue streams beyond it; size it for the step.
            "LLM_MAX_CONNECTIONS": str(max(1000, connections)),
            "PARLEY_LOG_LEVEL": "WARNING",
            # Every load-generator socket comes from loopback: the per-IP cap is for real clients.
            "PARLEY_MAX_CONNECTIONS_PER_IP": "0",
            **(self.one_owner_caps(connections) if self.one_owner else {}),
            **self.parley_overrides,
        }

    @staticmethod
    def one_owner_caps(connections: int) -> dict[str, str]:
        """One user runs every conversation, so the per-user caps are raised to the step's size."""
        size = max(connections, 1)
        return {
            "PARLEY_MAX_GENERATIONS_PER_USER": str(size),
            # Socket claims live in Redis under the user's id, and every run's throwaway database
            # starts its ids at 1: a previous run's claims on that id lapse only with their lease.
            "PARLEY_MAX_SOCKETS_PER_USER": str(size + 1000),
            "PARLEY_SNAPSHOTS_PER_MINUTE": str(size * 10),  # every connect takes one
            "PARLEY_WS_USER_RATE": str(size * 20),  # PARLEY_WS_RATE per socket
        }


@dataclass
class Server:
    impl: str
    procs: list[subprocess.Popen] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    sessions: list[dict[str, str]] = field(default_factory=list)  # Parley only

    @property
    def trees(self) -> list[Tree]:
        return [Tree(p.pid) for p in self.procs]

    def targets(self, n: int) -> list[Target]:
        """Conversation i goes to server process i mod P."""
        out = []
        for i in range(n):
            port = self.ports[i % len(self.ports)]
            base = f"ws://127.0.0.1:{port}/ws/conversations"
            if self.sessions:
                s = self.sessions[i]
                out.append(
                    Target(f"{base}/{s['conversation']}/", f"sessionid={s['session']}", f"http://127.0.0.1:{port}")
                )
            else:
                out.append(Target(f"{base}/{uuid.uuid4()}/", None, f"http://127.0.0.1:{port}"))
        return out

    def stop(self) -> None:
        for proc in self.procs:
            stop(proc)


def command(impl: str, port: int, world: World, n: int) -> tuple[list[str], dict[str, str]]:
    if impl in world.parleys:
        env = world.parley_env(world.parleys[impl], n)
        return [PYTHON, "-m", "chatsite.server", "-b", "127.0.0.1", "-p", str(port)], env
    if impl == "naive":
        env = {
            "REDIS_URL": world.redis_url,
            "BENCH_UPSTREAM": world.upstream,
            "DJANGO_SETTINGS_MODULE": "bench.baselines.naive.settings",
        }
        app = "bench.baselines.naive.asgi:application"
        return [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), app], env
    if impl in ("threads", "floor"):
        return [PYTHON, "-m", f"bench.baselines.{impl}", "--port", str(port), "--upstream", world.upstream], {}
    raise ValueError(f"unknown implementation {impl!r}")


def start(impl: str, world: World, n: int, processes: int = 1) -> Server:
    """Start `processes` server processes of `impl` pinned to the server core, ready for n conversations."""
    server = Server(impl)
    tree = world.parleys.get(impl)
    if tree is not None:
        forget_fair_use(world.redis_url)
        server.sessions = prepare_parley(world, tree, n)
    for _ in range(processes):
        port = free_port()
        args, env = command(impl, port, world, n)
        log = world.workdir / f"{impl}.log"
        proc = launch(args, core=SERVER_CORE, env=env, log=log, cwd=tree.root if tree else ROOT)
        server.procs.append(proc)
        server.ports.append(port)
    try:
        for proc, port in zip(server.procs, server.ports, strict=True):
            wait_port(port, proc)
    except Exception:
        server.stop()
        raise
    time.sleep(0.5)  # let imports settle before the first measurement
    return server


def forget_fair_use(redis_url: str) -> None:
    """Drop the fair-use counts Parley keeps in Redis: a stopped run's socket leases last up to two
    minutes, and a fresh database gives its users the same ids, so the next run's first user
    would start with the last run's sockets counted against its cap."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match="parley:fair:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def prepare_parley(world: World, tree: Checkout, n: int) -> list[dict[str, str]]:
    out = world.workdir / f"sessions-{uuid.uuid4().hex[:8]}.json"
    subprocess.run(
        [PYTHON, "-c", RUN_PREPARE, "--n", str(n), "--tag", out.stem, "--out", str(out)]
        + (["--one-owner"] if world.one_owner else []),
        cwd=tree.root,
        env=_env(world.parley_env(tree, n)),
        check=True,
        timeout=600,
    )
    return json.loads(out.read_text())


def ready(world: World, tree: Checkout) -> None:
    """Check that the tree runs on this venv, then migrate its database with its own manage.py."""
    env = _env(world.parley_env(tree, 0))
    verify(tree, env)
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--verbosity", "0"], cwd=tree.root, env=env, check=True, timeout=300
    )


def _env(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **extra}
