"""One host against two, at the same p99: how many streams each carries through nginx before the
p99 of its added token latency passes a bound (bench/scenarios.py measures each step).

A "host" here is a network namespace, which shares the machine's cores with everything else; so
each host gets a fixed CPU budget (a cgroup quota, `--host-cpu` cores), as a real machine has its
own cores. Everything else (nginx, PostgreSQL, Redis, the simulator, the load generator) runs
outside the quota, on the rest of the machine.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..client import Target
from ..impls import Server
from ..procs import RedisCpu, Tree
from ..scenarios import Meters, Workload, measure_active, run
from .balancer import SERVER_NAME
from .network import BALANCER, CLIENTS, Unavailable, host_namespace
from .topology import Topology

logger = logging.getLogger("bench.multihost")

PERIOD_US = 100_000
FAIL_TIMEOUT = 11.0  # seconds: past deploy/nginx/parley.conf's fail_timeout=10s
TARGET_RATIO = 1.7  # issue 19: two hosts carry at least 1.7x the streams of one at the same p99


@dataclass(frozen=True)
class ScalePlan:
    steps: tuple[int, ...] = (25, 50, 75, 100, 125, 150, 200, 250, 300, 400)
    p99_ms: float = 1000.0  # bench.run's --break-ms: past it a step counts as broken
    # Cores per host: small enough that the hosts, not the load generator, nginx or the simulator
    # on the rest of this 2-core machine, run out first.
    host_cpu: float = 0.25
    # Replies of 20 s whose starts are spread over 20 s, sockets opened 20 at a time: the streams
    # held at once are measured, not a burst of starts (which the shared PostgreSQL limits for any
    # number of hosts) or of handshakes (which overflow a starved host's listen backlog).
    work: Workload = field(default_factory=lambda: Workload(tokens=400, tps=20.0, ramp=20.0, connect_concurrency=20))


class HostCpu:
    """A cgroup capping a host's processes at `cores` of CPU (cgroup v2 cpu.max, or v1 CFS quota)."""

    def __init__(self, name: str, cores: float) -> None:
        quota = int(cores * PERIOD_US)
        if Path("/sys/fs/cgroup/cgroup.controllers").exists():
            self.path = Path("/sys/fs/cgroup") / name
            self.path.mkdir(exist_ok=True)
            (self.path / "cpu.max").write_text(f"{quota} {PERIOD_US}")
        elif Path("/sys/fs/cgroup/cpu").is_dir():
            self.path = Path("/sys/fs/cgroup/cpu") / name
            self.path.mkdir(exist_ok=True)
            (self.path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (self.path / "cpu.cfs_quota_us").write_text(str(quota))
        else:
            raise Unavailable("no cgroup CPU controller to give each host its own CPU budget")

    def add(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(str(pid))

    def remove(self) -> None:
        try:
            self.path.rmdir()
        except OSError:  # a process is still leaving; the empty group is harmless
            logger.warning("could not remove %s", self.path)


class BalancedServer(Server):
    """The running hosts' processes, reached only through nginx (for bench/scenarios.py)."""

    tls = None

    def targets(self, n: int) -> list[Target]:
        return [
            Target(
                f"wss://{SERVER_NAME}/ws/conversations/{session['conversation']}/",
                f"sessionid={session['session']}",
                f"https://{SERVER_NAME}",
                address=(BALANCER, 443),
                tls=self.tls,
                source=CLIENTS[i % len(CLIENTS)],
            )
            for i, session in enumerate(self.sessions[:n])
        ]


def step(topology: Topology, hosts: int, n: int, plan: ScalePlan, meters: Meters) -> dict:
    time.sleep(FAIL_TIMEOUT)  # nginx forgets the previous step's failed connections: every process is eligible
    server = BalancedServer("parley")
    server.procs = [p.process for h in range(1, hosts + 1) for p in topology.processes[h]]
    server.sessions = topology.seed(n)
    server.tls = topology.balancer.client_tls()
    row = run(lambda: measure_active(server, n, plan.work, meters))
    row.update(hosts=hosts, n=n)
    logger.info(
        "hosts=%d N=%d ok=%s p99=%.0f ms server cpu %.2f s foreign %.2f cores",
        hosts,
        n,
        row["ok"],
        row["latency_p99_ms"] or -1,
        row["server_cpu_s"],
        row["foreign_cores"],
    )
    return row


def within(row: dict, plan: ScalePlan) -> bool:
    return row["ok"] and row["latency_p99_ms"] is not None and row["latency_p99_ms"] <= plan.p99_ms


def sweep(topology: Topology, hosts: int, steps: list[int], plan: ScalePlan, meters: Meters) -> list[dict]:
    rows = []
    for n in steps:
        rows.append(step(topology, hosts, n, plan, meters))
        if not within(rows[-1], plan):
            break
    return rows


def capacity(rows: list[dict], plan: ScalePlan) -> int:
    return max((row["n"] for row in rows if within(row, plan)), default=0)


def measure(topology: Topology, plan: ScalePlan) -> dict:
    """Sweep one host, then two (host 1 keeps running), and the 1.7x point directly."""
    groups = {number: HostCpu(f"parley-bench-{host_namespace(number)}", plan.host_cpu) for number in (1, 2)}
    try:
        for process in topology.processes[1]:
            groups[1].add(process.process.pid)
        meters = Meters(Tree(topology.simulator.pid), RedisCpu(topology.redis.url))
        one = sweep(topology, 1, list(plan.steps), plan, meters)
        one_capacity = capacity(one, plan)
        topology.start_host(2)
        for process in topology.processes[2]:
            groups[2].add(process.process.pid)
        target = math.ceil(TARGET_RATIO * one_capacity) if one_capacity else None
        two = sweep(topology, 2, sorted({*plan.steps, *([target] if target else [])}), plan, meters)
        two_capacity = capacity(two, plan)
    finally:
        topology.kill(1)
        topology.kill(2)
        for group in groups.values():
            group.remove()
    at_target = next((row for row in two if target and row["n"] == target), None)
    return {
        "plan": {"steps": plan.steps, "p99_ms": plan.p99_ms, "host_cpu": plan.host_cpu, **vars(plan.work)},
        "machine": f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the end",
        "one_host": one,
        "two_hosts": two,
        "one_host_capacity": one_capacity,
        "two_hosts_capacity": two_capacity,
        "ratio": two_capacity / one_capacity if one_capacity else None,
        "target_n": target,
        "target_p99_ms": at_target and at_target["latency_p99_ms"],
        "target_met": bool(at_target and within(at_target, plan)),
    }


def summary(result: dict) -> str:
    plan = result["plan"]
    lines = [f"Scale-out through nginx, p99 bound {plan['p99_ms']:g} ms, {plan['host_cpu']} cores per host"]
    for label in ("one_host", "two_hosts"):
        for row in result[label]:
            lines.append(
                f"  {label:9} N={row['n']:4d} ok={row['ok']!s:5} p99={row['latency_p99_ms'] or float('nan'):7.1f} ms "
                f"first-token p99={row['first_token_p99_ms'] or float('nan'):7.1f} ms "
                f"server CPU {row['server_cpu_s']:.1f} s, foreign {row['foreign_cores']:.2f} cores"
            )
    ratio = f" (x{result['ratio']:.2f})" if result["ratio"] is not None else ""
    lines.append(
        f"Capacity: one host {result['one_host_capacity']}, two hosts {result['two_hosts_capacity']} streams{ratio}"
    )
    p99 = result["target_p99_ms"]
    measured = "not measured" if p99 is None else f"{p99:.0f} ms"
    verdict = "within" if result["target_met"] else "NOT within"
    lines.append(f"Two hosts at {result['target_n']} streams (1.7x one): p99 {measured}, {verdict} the bound")
    return "\n".join(lines)
