"""The two-slot queue behind every channel-layer channel and every daphne connection."""

from __future__ import annotations

import asyncio

from conversations.realtime.inbox import Inbox


async def test_messages_come_out_in_order_and_a_waiting_reader_is_woken() -> None:
    inbox = Inbox()
    reader = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("first")
    inbox.put_nowait("second")
    assert await reader == "first"
    assert await inbox.get() == "second"


async def test_a_drained_inbox_holds_nothing_allocated() -> None:
    inbox = Inbox()
    assert inbox.items is None
    inbox.put_nowait({"type": "websocket.connect"})
    assert inbox.items is not None
    await inbox.get()
    assert inbox.items is None and inbox.waiter is None
