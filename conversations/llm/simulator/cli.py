"""Command-line options shared by `python -m conversations.llm.simulator` and `manage.py llm_simulator`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from ..config import SimulatorDefaults
from .server import start_simulator

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser, defaults: SimulatorDefaults | None = None) -> None:
    d = defaults or SimulatorDefaults()
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8001, help="port to listen on (default 8001; 0 picks one)")
    parser.add_argument("--tps", type=float, default=d.tps, help="tokens per second per reply (0: no delay)")
    parser.add_argument("--ttft", type=float, default=d.ttft, help="seconds before the first token")
    parser.add_argument("--tokens", type=int, default=d.tokens, help="tokens per reply")
    parser.add_argument("--seed", type=int, default=d.seed, help="seed of the generated markdown")


def run(options: argparse.Namespace) -> None:
    """Serve until interrupted."""
    defaults = SimulatorDefaults(tps=options.tps, ttft=options.ttft, tokens=options.tokens, seed=options.seed)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(options.host, options.port, defaults))


async def _serve(host: str, port: int, defaults: SimulatorDefaults) -> None:
    server = await start_simulator(host, port, defaults=defaults)
    logger.info(
        "defaults: tps=%s ttft=%s tokens=%s seed=%s", defaults.tps, defaults.ttft, defaults.tokens, defaults.seed
    )
    try:
        await server.serve_forever()
    finally:
        server.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m conversations.llm.simulator", description=__doc__)
    add_arguments(parser)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run(parser.parse_args(argv))
