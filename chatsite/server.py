"""`python -m chatsite.server [daphne options]`: daphne on uvloop with Parley's frame limit.

Daphne builds its event loop when `daphne.server` is imported, so the uvloop policy must be set
first; this module does that, registers a graceful shutdown (running replies are saved as
`interrupted` with all their text at once on SIGTERM), then hands over to daphne's command line. Any daphne option
may be given; the WebSocket size limits default to PARLEY_WS_HARD_MAX_FRAME and the handshake
bound to PARLEY_WS_HANDSHAKE_TIMEOUT.
"""

from __future__ import annotations

import asyncio
import gc
import os
import re
import sys

import uvloop

DEFAULT_APPLICATION = "chatsite.asgi:application"
APPLICATION_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")
# Database work and sync tools run in worker threads; a 1 ms GIL switch interval (default 5 ms)
# keeps them from stalling the streaming loop (docs/performance.md).
GIL_SWITCH_INTERVAL = 0.001
# Net new container objects that set off a young collection (CPython's default: 700). Streaming
# allocates and frees at a high rate: at the default, survivors were promoted fast enough for full
# collections to run again and again under load, each holding the GIL while every stream waited
# (docs/performance.md, "Garbage collection").
GC_YOUNG_THRESHOLD = 50_000


def daphne_arguments(argv: list[str], max_frame: int, handshake_timeout: int = 5) -> list[str]:
    """argv with the frame limits, the handshake bound and the application added unless given."""
    arguments = list(argv)
    defaults = {
        "--websocket-max-message-size": max_frame,
        "--websocket-max-frame-size": max_frame,
        "--websocket_connect_timeout": handshake_timeout,
    }
    for option, value in defaults.items():
        if not any(arg.startswith(option) for arg in arguments):
            arguments += [option, str(value)]
    if not any(APPLICATION_PATH.fullmatch(arg) for arg in arguments):
        arguments.append(DEFAULT_APPLICATION)
    return arguments


async def start_runtime() -> None:
    """Start the generation worker with the process, so its first sweep recovers replies orphaned
    by a crash even if no socket ever connects to this process, and build the LLM provider and
    its HTTP client now, so the first reply does not pay for them.

    Then settle the garbage collector for a long-running server (settle_garbage_collector)."""
    from conversations.generation import warm_up

    await warm_up()
    settle_garbage_collector()


def settle_garbage_collector() -> None:
    """Freeze what start-up built, objects that live as long as the process, so that full
    collections stop walking them, and collect the young generation less often, so that the
    objects of a reply or a frame mostly die before a collection sees them. Both kinds of pass
    hold the GIL and paused the streaming loop (docs/performance.md, "Garbage collection")."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD)


async def graceful_shutdown() -> None:
    """Save running replies as interrupted with all their text, then release upstream connections."""
    from conversations.generation import shut_down

    await shut_down(interrupted=True)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    from daphne.cli import CommandLineInterface  # installs Twisted's asyncio reactor
    from django.conf import settings
    from twisted.internet import defer, reactor

    # Daphne has no ASGI lifespan: Twisted's startup and shutdown hooks stand in for it.
    reactor.callWhenRunning(lambda: defer.Deferred.fromFuture(asyncio.ensure_future(start_runtime())))
    reactor.addSystemEventTrigger(
        "before", "shutdown", lambda: defer.Deferred.fromFuture(asyncio.ensure_future(graceful_shutdown()))
    )
    from chatsite import compat

    compat.apply()
    limits = (settings.PARLEY_WS_HARD_MAX_FRAME, settings.PARLEY_WS_HANDSHAKE_TIMEOUT)
    CommandLineInterface().run(daphne_arguments(sys.argv[1:], *limits))


if __name__ == "__main__":
    main()
