"""A built-in OpenAI-compatible streaming server for development, tests and benchmarks.

It imports nothing from Django. Start it with `await start_simulator(host, port, tps=...)`,
`python -m conversations.llm.simulator`, or `python manage.py llm_simulator`.
"""

from __future__ import annotations

from .server import SimulatorServer, start_simulator

__all__ = ["SimulatorServer", "start_simulator"]
