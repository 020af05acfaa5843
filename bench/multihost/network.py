"""Three "hosts" and a load balancer as Linux network namespaces on one bridge, on this machine.

The addresses are the ones deploy/nginx/parley.conf names (10.77.0.11-13 for the hosts), so the
test runs that file unchanged. The root namespace keeps the shared services (PostgreSQL, Redis,
the simulator standing in for the LLM) and the clients on the bridge; the balancer has a
namespace of its own, so it may listen on ports 80 and 443 without touching the machine's.
Only one topology runs at a time: a lock file says whether a live run holds these names.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

BRIDGE = "parley-br0"
SERVICES = "10.77.0.1"  # the root namespace's address on the bridge
BALANCER = "10.77.0.2"
NETWORK = "10.77.0.0/24"
CLIENTS = [f"10.77.0.{100 + n}" for n in range(16)]  # client source addresses (the balancer limits per address)
BALANCER_NAMESPACE = "parley-lb"
LOCK = Path("/run/lock/parley-multihost.lock")


class Unavailable(RuntimeError):
    """This machine cannot build the topology (not root, no iproute2, another run holds it)."""


def host_namespace(number: int) -> str:
    return f"parley-h{number}"


def host_address(number: int) -> str:
    return f"10.77.0.1{number}"


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def in_namespace(namespace: str) -> list[str]:
    """The command prefix that runs a program inside `namespace`."""
    return ["ip", "netns", "exec", namespace]


class Network:
    """The bridge, the balancer's namespace and `hosts` host namespaces; `down()` removes them all."""

    def __init__(self, hosts: int = 3) -> None:
        self.hosts = hosts
        self.lock: int | None = None

    def up(self) -> Network:
        check_possible()
        self.lock = os.open(LOCK, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.lock)
            self.lock = None
            raise Unavailable(f"another multi-host run holds {LOCK}") from None
        remove_leftovers(self.hosts)
        ip("link", "add", BRIDGE, "type", "bridge")
        ip("link", "set", BRIDGE, "up")
        for address in (SERVICES, *CLIENTS):
            ip("addr", "add", f"{address}/24", "dev", BRIDGE)
        self.attach(BALANCER_NAMESPACE, "veth-lb", BALANCER)
        for number in range(1, self.hosts + 1):
            self.attach(host_namespace(number), f"veth-h{number}", host_address(number))
        return self

    @staticmethod
    def attach(namespace: str, veth: str, address: str) -> None:
        ip("netns", "add", namespace)
        ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        ip("link", "set", veth, "master", BRIDGE, "up")
        ip("-n", namespace, "addr", "add", f"{address}/24", "dev", "eth0")
        ip("-n", namespace, "link", "set", "eth0", "up")
        ip("-n", namespace, "link", "set", "lo", "up")

    def cut(self, number: int) -> None:
        """The host loses its network at once: nothing it sends or is sent arrives any more."""
        ip("-n", host_namespace(number), "link", "set", "eth0", "down")

    @property
    def held(self) -> bool:
        return self.lock is not None

    def down(self) -> None:
        """Remove the topology, only if this run built it: another run's stays untouched."""
        if self.lock is None:
            return
        remove_leftovers(self.hosts)
        os.close(self.lock)
        self.lock = None


def remove_leftovers(hosts: int) -> None:
    """Links first: a deleted namespace lingers, with its veth, while a socket of a killed process
    in it still retransmits to a peer it cannot reach."""
    for veth in ("veth-lb", *(f"veth-h{n}" for n in range(1, hosts + 1))):
        ip("link", "del", veth, check=False)  # and its peer, in the namespace
    for namespace in (BALANCER_NAMESPACE, *(host_namespace(n) for n in range(1, hosts + 1))):
        ip("netns", "del", namespace, check=False)
    ip("link", "del", BRIDGE, check=False)


def check_possible() -> None:
    if os.geteuid() != 0:
        raise Unavailable("network namespaces need root")
    if shutil.which("ip") is None:
        raise Unavailable("iproute2's `ip` is not installed")
    probe = f"parley-probe-{os.getpid()}"
    made = ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        raise Unavailable(f"cannot create a network namespace: {made.stderr.strip()}")
    ip("netns", "del", probe, check=False)
