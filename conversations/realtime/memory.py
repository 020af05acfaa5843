"""Hand the memory glibc's malloc holds freed back to the system, every PARLEY_MALLOC_TRIM_INTERVAL.

Reply-sized strings and JSON frames, made on the event loop and the database thread, fragment
glibc's heaps: the memory they free stays with the process, so its RSS grows although the objects
it keeps do not (docs/performance.md, "Soak"). Calling `malloc_trim(0)` now and then is the known
remedy: Dask documents it for its workers' "unmanaged memory"
(https://distributed.dask.org/en/stable/worker-memory.html, "Manually trim memory"), and Orthanc's
housekeeper thread calls it periodically. Other C libraries (musl, macOS, Windows) lack the call,
and the loop steps aside.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
from collections.abc import Callable

from django.conf import settings

logger = logging.getLogger(__name__)

Trim = Callable[[int], int]


def find_malloc_trim() -> Trim | None:
    """glibc's `malloc_trim(pad)`, or None where this process's C library has no such function."""
    try:
        libc = ctypes.CDLL(None)  # the symbols already loaded, the C library's among them
    except (OSError, TypeError):  # Windows cannot open "no library"
        return None
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


async def trim_loop(*, find: Callable[[], Trim | None] = find_malloc_trim, sleep=asyncio.sleep) -> None:
    """Trim every PARLEY_MALLOC_TRIM_INTERVAL seconds (0 disables), in a thread: a trim walks the
    heaps and can take milliseconds, which the event loop must not wait."""
    interval = settings.PARLEY_MALLOC_TRIM_INTERVAL
    if interval <= 0:
        return
    trim = find()
    if trim is None:
        logger.info("This C library has no malloc_trim: the memory malloc frees stays with the process")
        return
    while True:
        await sleep(interval)
        await asyncio.to_thread(trim, 0)
