"""The whole multi-host world: network, shared services, two Parley processes per host, nginx.

PostgreSQL and Redis are private to the run (tests/services.py, tests/servers.py) and listen on
the bridge as well as loopback, as a database host would on a private network. Each Parley
process runs in its host's namespace (with the host's own host name, so the live console tells
the hosts apart) with the environment of deploy/parley.env.example and the command line of
deploy/systemd/parley@.service, so the files the docs ship are the ones under test.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.servers import RedisProcess, ServerProcess
from tests.services import PrivatePostgres

from ..procs import PYTHON, ROOT, free_port, launch, stop, wait_port
from .balancer import SERVER_NAME, Balancer
from .network import NETWORK, SERVICES, Network, host_address, host_namespace, in_namespace

UNIT = ROOT / "deploy" / "systemd" / "parley@.service"
ENV_FILE = ROOT / "deploy" / "parley.env.example"
PORTS = (8001, 8002)  # parley@8001 and parley@8002 on every host (deploy/nginx/parley.conf)
HARNESS_CORE = 1


def unit_options(unit: Path, port: int, bind: str) -> list[str]:
    """The daphne options of the unit's ExecStart, with its instance (%i) and BIND_ADDRESS filled in."""
    line = next(line for line in unit.read_text().splitlines() if line.startswith("ExecStart="))
    words = shlex.split(line.removeprefix("ExecStart="))
    after = words.index("chatsite.server") + 1
    return [word.replace("%i", str(port)).replace("${BIND_ADDRESS}", bind) for word in words[after:]]


def env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


class Topology:
    """Start with `start()`, take a host down with `cut()` then `kill()`, remove it all with `stop()`."""

    def __init__(self, hosts: int = 3, settings: dict[str, str] | None = None, workdir: Path | None = None) -> None:
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="parley-multihost-"))
        self.workdir.chmod(0o755)
        self.network = Network(hosts)
        self.hosts = hosts
        self.settings = settings or {}
        for name in ("postgres", "redis", "media"):
            (self.workdir / name).mkdir(exist_ok=True)
        self.postgres = PrivatePostgres(self.workdir / "postgres", also_on=SERVICES, trusted=NETWORK)
        self.redis = RedisProcess(self.workdir / "redis", also_on=SERVICES)
        self.balancer = Balancer(self.workdir)
        self.simulator: subprocess.Popen | None = None
        self.simulator_port = free_port()
        self.processes: dict[int, list[ServerProcess]] = {}
        self.secret_key = secrets.token_urlsafe(50)  # one for every process: they read each other's sessions

    @property
    def env(self) -> dict[str, str]:
        """deploy/parley.env.example with this run's addresses, secret, media folder and simulator."""
        return {
            **os.environ,
            **env_file(ENV_FILE),
            "DJANGO_SECRET_KEY": self.secret_key,
            "DATABASE_URL": self.postgres.url_at(SERVICES),
            "REDIS_URL": self.redis.url_at(SERVICES),
            "PARLEY_MEDIA_ROOT": str(self.workdir / "media"),
            "LLM_BASE_URL": f"http://{SERVICES}:{self.simulator_port}/v1",
            "LLM_API_KEY": "simulator",
            "LLM_MODEL": "simulator",
            "PYTHONUNBUFFERED": "1",
            **self.settings,
        }

    def start(self, running: int | None = None) -> Topology:
        """Everything, with Parley on the first `running` hosts (all by default)."""
        self.network.up()
        self.postgres.create()
        self.redis.start()
        command = [PYTHON, "-m", "conversations.llm.simulator", "--host", SERVICES, "--port", str(self.simulator_port)]
        self.simulator = launch(command, core=HARNESS_CORE, env={}, log=self.workdir / "simulator.log")
        wait_port(self.simulator_port, self.simulator, host=SERVICES)
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("check", "--deploy", "--fail-level", "WARNING")
        for number in range(1, (running or self.hosts) + 1):
            self.start_host(number)
        self.balancer.start()
        return self

    def manage(self, *args: str) -> str:
        env = {**self.env, "DATABASE_URL": self.postgres.url, "REDIS_URL": self.redis.url}
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
        return done.stdout

    def start_host(self, number: int) -> None:
        """The host's processes, started together and then awaited (each takes seconds to import)."""
        name, address = host_namespace(number), host_address(number)
        prefix = [*in_namespace(name), "unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', name]
        started = [
            ServerProcess(
                self.env,
                port,
                host=address,
                prefix=prefix,
                options=unit_options(UNIT, port, address),
                log=self.workdir / f"{name}-{port}.log",
            ).start(wait=False)
            for port in PORTS
        ]
        self.processes[number] = started
        for process in started:
            process.wait_started()

    def seed(self, conversations: int) -> list[dict[str, str]]:
        """That many users, each with one conversation and a session: [{"conversation", "session"}]."""
        out = self.workdir / f"sessions-{secrets.token_hex(4)}.json"
        self.run_python("bench/prepare.py", "--n", str(conversations), "--tag", out.stem, "--out", str(out))
        return json.loads(out.read_text())

    def run_python(self, script: str, *args: str) -> None:
        env = {**self.env, "DATABASE_URL": self.postgres.url, "REDIS_URL": self.redis.url, "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, script, *args], cwd=ROOT, env=env, check=True, timeout=300)

    def cut(self, number: int) -> None:
        self.network.cut(number)

    def kill(self, number: int) -> None:
        for process in self.processes.get(number, []):
            process.stop(signal.SIGKILL)

    def stop(self) -> None:
        built = self.network.held
        self.balancer.stop()
        for processes in self.processes.values():
            for process in processes:
                process.stop()
        if self.simulator is not None:
            stop(self.simulator)
        self.redis.stop()
        self.postgres.stop()
        self.network.down()
        for data in ("postgres", "redis", "media"):  # the logs stay, for a look after the run
            shutil.rmtree(self.workdir / data, ignore_errors=True)
        if not built:  # it never started: nothing to look at
            shutil.rmtree(self.workdir, ignore_errors=True)

    def describe(self) -> str:
        lines = [f"run folder {self.workdir}", f"https://{SERVER_NAME} on 10.77.0.2:443 (nginx, CA in tls/)"]
        for number, processes in self.processes.items():
            ports = ", ".join(f"{p.host}:{p.port}" for p in processes)
            lines.append(f"host {number} ({host_namespace(number)}): {ports}")
        lines.append(f"PostgreSQL {self.postgres.url_at(SERVICES)}, Redis {self.redis.url_at(SERVICES)}")
        return "\n".join(lines)
