"""Each process hands the memory malloc holds freed back to the system on a schedule, off the event
loop, and steps aside where the C library cannot (docs/performance.md, "Soak")."""

from __future__ import annotations

import logging
import platform
import threading

import pytest

from conversations.realtime import memory


class LoopEnded(Exception):
    """Raised by the test's sleep once the rounds the test wants have run."""


def rounds(count: int, waited: list[float]):
    """A sleep that records each wait and ends the loop at the `count`th."""

    async def sleep(seconds: float) -> None:
        waited.append(seconds)
        if len(waited) == count:
            raise LoopEnded

    return sleep


async def test_the_loop_trims_after_every_interval_in_a_thread(settings):
    settings.PARLEY_MALLOC_TRIM_INTERVAL = 7.0
    waited: list[float] = []
    trims: list[tuple[int, int]] = []  # (pad, thread) of each call

    def trim(pad: int) -> int:
        trims.append((pad, threading.get_ident()))
        return 1

    with pytest.raises(LoopEnded):
        await memory.trim_loop(find=lambda: trim, sleep=rounds(3, waited))
    assert waited == [7.0, 7.0, 7.0]
    assert [pad for pad, _ in trims] == [0, 0]
    assert threading.get_ident() not in {thread for _, thread in trims}  # never on the event loop


async def test_a_c_library_without_malloc_trim_steps_aside_with_one_log_line(settings, caplog):
    settings.PARLEY_MALLOC_TRIM_INTERVAL = 7.0
    waited: list[float] = []
    with caplog.at_level(logging.INFO, logger=memory.__name__):
        await memory.trim_loop(find=lambda: None, sleep=rounds(1, waited))  # returns instead of looping
    assert waited == []
    assert [r.getMessage() for r in caplog.records if "malloc_trim" in r.getMessage()] == [
        "This C library has no malloc_trim: the memory malloc frees stays with the process"
    ]


async def test_an_interval_of_zero_disables_trimming(settings):
    settings.PARLEY_MALLOC_TRIM_INTERVAL = 0

    def find():
        raise AssertionError("looked for malloc_trim although disabled")

    waited: list[float] = []
    await memory.trim_loop(find=find, sleep=rounds(1, waited))  # returns at once
    assert waited == []


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_glibc_malloc_trim_is_found_and_runs():
    trim = memory.find_malloc_trim()
    assert trim is not None
    assert trim(0) in (0, 1)  # 1 when memory was given back, 0 when there was none to give


@pytest.mark.django_db(transaction=True)
async def test_every_worker_runs_the_trim_loop(worker):
    assert "parley-malloc-trim" in {task.get_name() for task in worker.tasks if not task.done()}
