"""PostgreSQL stopped mid-stream, at the checkpoint and at the finish: no streamed text is lost.

Two live processes share a private PostgreSQL and Redis (conftest.py). In each case one reply
finishes while the database is down (its final save must wait it out), and one on each process
streams through the whole outage and past it (its checkpoints fail, and its heartbeat goes stale
for every sweep). Every reply must end `complete`, saved with exactly the text that was streamed,
and no socket may see a `message.completed` shorter than the text it already showed.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.watch import Watcher, echoed, saved_reply

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

FIRST_TOKEN = 1.0  # seconds before the finishing reply's first token: time enough to stop PostgreSQL


@pytest.mark.parametrize("outage", [1.0, 15.0], ids=["1s", "15s"])
async def test_a_database_outage_mid_stream_loses_no_text(outage, database, servers, seed):
    a, b = servers
    cookie, (finishing, spanning_a, spanning_b) = seed(3)
    finish_send, finish_text = echoed(20, tps=100, ttft=FIRST_TOKEN)
    span_seconds = FIRST_TOKEN + outage + 4  # streaming before, through and after the outage
    span_send, span_text = echoed(int(40 * span_seconds), tps=40, ttft=0)
    # Each reply is watched from the process that does not run it, and sent from the one that does.
    runs = ((a, finishing), (a, spanning_a), (b, spanning_b))
    senders = [await Watcher.open(server, chat, cookie) for server, chat in runs]
    watchers = [
        await Watcher.open(server, chat, cookie) for server, chat in ((b, finishing), (b, spanning_a), (a, spanning_b))
    ]
    try:
        ends, *spans = watchers
        for sender, content in zip(senders[1:], (span_send, span_send), strict=True):
            await sender.socket.send(type="message.send", content=content, request_id="fault")
        for span in spans:
            await span.until(lambda s=span: s.reply_id() is not None)  # started while the database was up
        await senders[0].socket.send(type="message.send", content=finish_send, request_id="fault")
        await ends.until(lambda: ends.reply_id() is not None)
        await asyncio.to_thread(database.stop)
        assert ends.text() == "", "PostgreSQL took longer to stop than the reply took to start; raise FIRST_TOKEN"

        await ends.until(lambda: ends.text() == finish_text)  # streamed whole: its final save now fails
        await asyncio.sleep(outage)  # the outage itself, not a wait for a result
        await asyncio.to_thread(database.start)

        for watcher, text in zip(watchers, (finish_text, span_text, span_text), strict=True):
            await watcher.until(lambda w=watcher: w.reply_id() in w.completed, timeout=span_seconds + 30)
            reply_id = watcher.reply_id()
            completed = watcher.completed[reply_id]
            assert watcher.view.needs_sync is False  # every delta arrived, in order
            assert (completed["status"], completed["content"]) == ("complete", text)
            assert watcher.shown_before[reply_id] == text  # never shrank what the user saw
            assert await asyncio.to_thread(saved_reply, database.url, reply_id) == ("complete", text, "")
    finally:
        for watcher in watchers:
            await watcher.close()
        for sender in senders:
            await sender.close()
