"""Launching pinned processes and measuring them: CPU seconds, memory, threads, Redis CPU."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import redis

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SERVER_CORE = 0  # every server under test
HARNESS_CORE = 1  # the load generator and the simulator


def raise_nofile(limit: int = 65536) -> int:
    """Raise this process's open-file limit as far as the hard limit allows; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(limit, hard) if hard != resource.RLIM_INFINITY else limit
    if wanted > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pin_self(core: int) -> None:
    os.sched_setaffinity(0, {core})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(args: list[str], *, core: int, env: dict[str, str], log: Path, cwd: Path = ROOT) -> subprocess.Popen:
    """Start `args` under `taskset -c core` with a raised file limit; output goes to `log`."""
    full_env = {**os.environ, **env}
    with log.open("ab") as out:
        return subprocess.Popen(
            ["taskset", "-c", str(core), *args],
            cwd=cwd,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=raise_nofile,
            start_new_session=True,
        )


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.args} exited with {proc.returncode}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@dataclass(slots=True)
class Usage:
    cpu: float  # user + system seconds of the whole process tree
    rss: int
    vms: int
    threads: int


class Tree:
    """A process and all its descendants, measured together."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)

    def processes(self) -> list[psutil.Process]:
        try:
            return [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def usage(self) -> Usage:
        cpu = rss = vms = threads = 0
        for proc in self.processes():
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    memory = proc.memory_info()
                    cpu += times.user + times.system
                    rss += memory.rss
                    vms += memory.vms
                    threads += proc.num_threads()
            except psutil.NoSuchProcess:
                continue
        return Usage(cpu, rss, vms, threads)


def core_busy() -> list[float]:
    """Busy CPU seconds of each core so far, whoever used them."""
    return [t.user + t.nice + t.system + t.irq + t.softirq + t.steal for t in psutil.cpu_times(percpu=True)]


def self_cpu() -> float:
    times = psutil.Process().cpu_times()
    return times.user + times.system


class RedisCpu:
    """Redis's own CPU counters from INFO; they include any other client of a shared Redis."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=5)

    def seconds(self) -> float | None:
        try:
            info = self.client.info("cpu")
        except redis.RedisError:
            return None
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])

    def placement(self) -> str:
        """Which cores Redis may run on, as far as this user can see."""
        try:
            pid = int(self.client.info("server")["process_id"])
            return "cores " + ",".join(map(str, psutil.Process(pid).cpu_affinity())) + " (not pinned by the harness)"
        except Exception as error:
            return f"unknown ({type(error).__name__})"
