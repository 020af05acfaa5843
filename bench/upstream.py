"""`python -m bench.upstream`: CPU per streamed token and per reply of each LLM HTTP transport, in one run.

Starts the simulator (`python -m conversations.llm.simulator`) on its own core, then reads N
concurrent replies through `provider.stream_to`, as the generation path does, once per transport
per round: httpx's own in small pools (default), the fast llhttp one (LLM_FAST_TRANSPORT=1),
httpx's own as it comes (one pool for every connection, the default until 28 November), and with
`--baseline REF` the hand-written transport of that git revision, for a before/after in the same
run. Rounds alternate the transports (A/B/A/B) so a busy shared machine hits them alike; the
spread across rounds is printed with the medians. Only this process's CPU time is counted.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvloop

from conversations.llm import client as llm_client
from conversations.llm.base import Options
from conversations.llm.config import HTTPLimits, HTTPNetwork, ProviderConfig
from conversations.llm.providers.simulator import SimulatorProvider

from .procs import HARNESS_CORE, PYTHON, ROOT, SERVER_CORE, free_port, launch, pin_self, raise_nofile, stop, wait_port

logger = logging.getLogger("bench.upstream")


@dataclass(slots=True)
class Sample:
    transport: str
    cpu: float  # seconds of this process
    wall: float
    tokens: int
    replies: int

    @property
    def per_token_us(self) -> float:
        return self.cpu / self.tokens * 1e6

    @property
    def per_reply_us(self) -> float:
        return self.cpu / self.replies * 1e6


ONE_POOL = "httpx, one pool"


def transports(baseline: str | None) -> dict[str, HTTPNetwork]:
    """Name -> network setup; bench-only clients are told apart by a proxy value no request uses."""
    chosen = {"default": HTTPNetwork(), "fast": HTTPNetwork(fast=True), ONE_POOL: HTTPNetwork(proxy="one-pool:")}
    if baseline:
        chosen[f"hand-written@{baseline}"] = HTTPNetwork(proxy=f"baseline:{baseline}")
    return chosen


def install_baseline(ref: str, limits: HTTPLimits, network: HTTPNetwork) -> None:
    """Put a client on the old hand-written transport of `ref` into the shared client cache (bench only)."""
    package = Path(tempfile.mkdtemp()) / "baseline_transport"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in ("transport.py", "http11.py"):
        source = subprocess.run(
            ["git", "show", f"{ref}:conversations/llm/{name}"], cwd=ROOT, check=True, capture_output=True
        ).stdout
        (package / name).write_bytes(source)
    spec = importlib.util.spec_from_file_location("baseline_transport", package / "__init__.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["baseline_transport"] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    from baseline_transport.transport import StreamingTransport  # type: ignore[import-not-found]

    template = llm_client.new_http_client(limits, HTTPNetwork())
    pool = httpx.Limits(max_connections=limits.max_connections, max_keepalive_connections=limits.max_keepalive)
    old = httpx.AsyncClient(
        transport=StreamingTransport(pool, llm_client.ssl_context(HTTPNetwork())),
        timeout=template.timeout,
        headers={"accept-encoding": "identity"},
        trust_env=False,
    )
    llm_client._clients.setdefault(asyncio.get_running_loop(), {})[limits, network] = old


def install_one_pool(limits: HTTPLimits, network: HTTPNetwork) -> None:
    """Put a client on httpx's transport as it comes, one pool for every connection, into the cache."""
    pool = httpx.Limits(max_connections=limits.max_connections, max_keepalive_connections=limits.max_keepalive)
    template = llm_client.new_http_client(limits, HTTPNetwork())
    plain = httpx.AsyncClient(
        limits=pool, timeout=template.timeout, headers={"accept-encoding": "identity"}, trust_env=False
    )
    llm_client._clients.setdefault(asyncio.get_running_loop(), {})[limits, network] = plain


async def one_round(name: str, config: ProviderConfig, streams: int, options: Options) -> Sample:
    provider = SimulatorProvider(config)
    counts = [0] * streams
    messages = [{"role": "user", "content": "bench"}]

    def counter(index: int) -> Callable[[str], None]:
        def on_text(_: str) -> None:
            counts[index] += 1

        return on_text

    started_cpu, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(provider.stream_to(messages, options, counter(i)) for i in range(streams)))
    cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started
    return Sample(name, cpu, wall, sum(counts), streams)


async def measure(arguments: argparse.Namespace, base_url: str) -> list[Sample]:
    limits = HTTPLimits()
    setups = transports(arguments.baseline)
    install_one_pool(limits, setups[ONE_POOL])
    if arguments.baseline:
        install_baseline(arguments.baseline, limits, setups[f"hand-written@{arguments.baseline}"])
    options = Options("simulator")
    configs = {name: ProviderConfig(base_url=base_url, limits=limits, network=net) for name, net in setups.items()}
    for name, config in configs.items():  # warm up: imports, connections, caches
        await one_round(name, config, min(arguments.streams, 20), options)
    samples = []
    for round_number in range(arguments.rounds):
        order = list(configs) if round_number % 2 == 0 else list(reversed(configs))
        for name in order:
            sample = await one_round(name, configs[name], arguments.streams, options)
            logger.info(
                "round %d %-24s %6.1f µs/token %8.0f µs/reply  (%d tokens, %.2fs CPU, %.2fs wall)",
                round_number + 1,
                name,
                sample.per_token_us,
                sample.per_reply_us,
                sample.tokens,
                sample.cpu,
                sample.wall,
            )
            samples.append(sample)
    await llm_client.close_http_clients()
    return samples


def report(samples: list[Sample]) -> None:
    names = list(dict.fromkeys(sample.transport for sample in samples))
    medians = {}
    logger.info("%-24s %s", "transport", "µs/token median (min-max)   µs/reply median")
    for name in names:
        mine = [sample for sample in samples if sample.transport == name]
        per_token = [sample.per_token_us for sample in mine]
        medians[name] = statistics.median(per_token)
        logger.info(
            "%-24s %6.1f (%.1f-%.1f)          %8.0f",
            name,
            medians[name],
            min(per_token),
            max(per_token),
            statistics.median(sample.per_reply_us for sample in mine),
        )
    reference = medians[names[0]]
    for name in names[1:]:
        logger.info("%s / %s: %.2f", name, names[0], medians[name] / reference)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.upstream", description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=300, help="concurrent replies per round")
    parser.add_argument("--tps", type=float, default=50.0, help="simulator tokens per second per reply")
    parser.add_argument("--tokens", type=int, default=100, help="tokens per reply")
    parser.add_argument("--rounds", type=int, default=4, help="rounds; each reads every transport once")
    parser.add_argument("--baseline", default=None, help="git revision whose hand-written transport to add")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would be measured too
    raise_nofile()
    pin_self(SERVER_CORE)
    port = free_port()
    command = [PYTHON, "-m", "conversations.llm.simulator", "--port", str(port)]
    command += ["--tps", str(arguments.tps), "--tokens", str(arguments.tokens), "--ttft", "0.05"]
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        simulator = launch(command, core=HARNESS_CORE, env={}, log=Path(log.name))
        try:
            wait_port(port, simulator)
            samples = uvloop.run(measure(arguments, f"http://127.0.0.1:{port}/v1"))
        finally:
            stop(simulator)
    report(samples)


if __name__ == "__main__":
    main()
