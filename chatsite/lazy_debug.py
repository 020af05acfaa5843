"""Stop autobahn pretty-printing its configuration on every WebSocket connection.

Autobahn's handshake calls `pformat` on about forty protocol options for a debug log line, and
does it eagerly, whether or not debug logging is on. With many short conversations that was 8%
of the server's CPU in the benchmark profile (docs/performance.md). Here the formatting happens
only if a log message is actually rendered.
"""

from __future__ import annotations

from pprint import pformat
from typing import Any

from autobahn.websocket import protocol


class LazyPformat:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __str__(self) -> str:
        return pformat(self.value)

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


protocol.pformat = LazyPformat
protocol.Timings.__str__ = lambda self: pformat(self._timings)  # its one caller that must return a str
