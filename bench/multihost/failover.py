"""Losing a host mid-stream: N conversations stream through nginx across three hosts, host 1 is cut
off and killed, and every reply is checked against what its user saw and what was saved.

Expected, and checked for every conversation:
- a reply host 1 was generating ends `interrupted`; its user's socket is closed by the balancer,
  reconnects through it to another host, and sees exactly the saved text, of which everything it
  had on screen before is the beginning; `message.continue` then streams the same reply on from it;
- a reply generated elsewhere completes with exactly its text, on a socket that never dropped and
  never skipped a `seq`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import psycopg

from .clients import Conversation, close, echoed, follow
from .topology import Topology

LOST_HOST = 1


@dataclass(frozen=True)
class Plan:
    conversations: int = 300
    words: int = 200  # per reply; long enough that every reply is still streaming at the cut
    tps: float = 10.0
    deadline: float = 240.0  # seconds for each phase


@dataclass
class Outcome:
    """What the run saw; `failures` lists every check that did not hold, with the conversation."""

    plan: Plan
    hosts: dict[str, int] = field(default_factory=dict)  # replies generated per host before the cut
    continued_on: dict[str, int] = field(default_factory=dict)  # host generating each continued reply
    seconds: dict[str, float] = field(default_factory=dict)
    interrupted: int = 0
    resumed_exactly: int = 0
    continued: int = 0
    completed_exactly: int = 0
    untouched: int = 0
    reconnects: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        expected_lost = self.hosts.get(f"parley-h{LOST_HOST}", 0)
        others = self.plan.conversations - expected_lost
        return (
            not self.failures
            and expected_lost > 0
            and f"parley-h{LOST_HOST}" not in self.continued_on
            and sum(self.continued_on.values()) > 0
            and self.interrupted == self.resumed_exactly == self.continued == expected_lost
            and self.completed_exactly == self.untouched == others
        )


def reply_hosts(database_url: str, reply_ids: list[str]) -> dict[str, str]:
    """Reply id -> host name of the process generating it (its worker channel, from the heartbeats)."""
    from conversations.models import Message, ServerProcess

    query = (
        f"SELECT m.id::text, p.host FROM {Message._meta.db_table} m "
        f"JOIN {ServerProcess._meta.db_table} p ON p.name = m.worker WHERE m.id::text = ANY(%s)"
    )
    with psycopg.connect(database_url) as connection:
        return dict(connection.execute(query, [reply_ids]).fetchall())


def saved(database_url: str, reply_ids: list[str]) -> dict[str, tuple[str, str]]:
    from conversations.models import Message

    query = f"SELECT id::text, status, content FROM {Message._meta.db_table} WHERE id::text = ANY(%s)"
    with psycopg.connect(database_url) as connection:
        return {row[0]: (row[1], row[2]) for row in connection.execute(query, [reply_ids])}


async def run(topology: Topology, plan: Plan) -> Outcome:
    outcome = Outcome(plan)
    seeded = await asyncio.to_thread(topology.seed, plan.conversations)
    conversations = []
    for index, row in enumerate(seeded):
        message, text = echoed(index, plan.words, plan.tps)
        conversations.append(Conversation(index, row["conversation"], row["session"], message, text))
    tls, done = topology.balancer.client_tls(), asyncio.Event()
    followers = [asyncio.create_task(follow(c, tls, done)) for c in conversations]
    started = time.monotonic()
    try:
        await phase(outcome, "connected", conversations, lambda c: c.socket is not None and c.snapshots > 0)
        for conversation in conversations:
            await conversation.send(
                type="message.send", content=conversation.message, request_id=conversation.request_id
            )
        await phase(outcome, "streaming", conversations, lambda c: c.shown != "")
        hosts = await asyncio.to_thread(reply_hosts, topology.postgres.url, [c.reply_id for c in conversations])
        lost = [c for c in conversations if hosts.get(c.reply_id) == f"parley-h{LOST_HOST}"]
        for name in hosts.values():
            outcome.hosts[name] = outcome.hosts.get(name, 0) + 1
        if len(hosts) != len(conversations):
            outcome.failures.append(f"{len(conversations) - len(hosts)} replies had no known host")
        cut_at = time.monotonic()
        outcome.seconds["to_cut"] = round(cut_at - started, 2)
        await asyncio.to_thread(topology.cut, LOST_HOST)
        await asyncio.to_thread(topology.kill, LOST_HOST)
        await phase(outcome, "ended", conversations, lambda c: c.status not in (None, "streaming"), since=cut_at)
        await check_ends(outcome, topology, conversations, lost)
        await continue_lost(outcome, topology.postgres.url, lost)
    finally:
        done.set()
        await asyncio.gather(*(close(c) for c in conversations))
        for task in followers:
            task.cancel()
        await asyncio.gather(*followers, return_exceptions=True)
    outcome.reconnects = sum(c.reconnects for c in conversations)
    return outcome


async def phase(outcome: Outcome, name: str, conversations: list[Conversation], condition, since=None) -> None:
    begun = since or time.monotonic()
    await asyncio.gather(*(c.until(lambda c=c: condition(c), outcome.plan.deadline) for c in conversations))
    outcome.seconds[name] = round(time.monotonic() - begun, 2)


async def check_ends(outcome: Outcome, topology: Topology, conversations: list[Conversation], lost) -> None:
    rows = await asyncio.to_thread(saved, topology.postgres.url, [c.reply_id for c in conversations])
    lost_ids = {c.reply_id for c in lost}
    for c in conversations:
        status, content = rows.get(c.reply_id, ("missing", ""))
        if c.reply_id in lost_ids:
            check_lost(outcome, c, status, content)
        else:
            check_untouched(outcome, c, status, content)


def check_lost(outcome: Outcome, c: Conversation, status: str, content: str) -> None:
    shown_text = c.reply["content"]
    if status == "interrupted" and c.status == "interrupted":
        outcome.interrupted += 1
    else:
        outcome.failures.append(f"conversation {c.index}: saved {status}, shown {c.status}, expected interrupted")
    if c.reconnects < 1:
        outcome.failures.append(f"conversation {c.index}: its socket on the lost host never reconnected")
    if shown_text == content and content.startswith(c.shown) and 0 < len(content) < len(c.text):
        outcome.resumed_exactly += 1
    elif not c.text.startswith(content):
        outcome.failures.append(f"conversation {c.index}: the saved text is not the beginning of the reply")
    else:
        outcome.failures.append(
            f"conversation {c.index}: after reconnecting it shows {len(shown_text)} characters, "
            f"{len(content)} saved, {len(c.shown)} shown before, of {len(c.text)}"
        )


def check_untouched(outcome: Outcome, c: Conversation, status: str, content: str) -> None:
    if status == "complete" == c.status and content == c.text == c.reply["content"]:
        outcome.completed_exactly += 1
    else:
        outcome.failures.append(f"conversation {c.index}: saved {status} ({len(content)} of {len(c.text)} characters)")
    if c.reconnects == 0 and c.gaps == 0 and not c.view.repeated_created:
        outcome.untouched += 1
    else:
        outcome.failures.append(f"conversation {c.index}: {c.reconnects} reconnects, {c.gaps} seq gaps on a live host")


async def continue_lost(outcome: Outcome, database_url: str, lost: list[Conversation]) -> None:
    """Continue every interrupted reply from its saved text, on the host its socket now reaches;
    it must stream on to `complete`."""
    saved_text = {c.reply_id: c.reply["content"] for c in lost}
    for c in lost:
        c.request_id = f"continue-{c.index}"
        await c.send(type="message.continue", request_id=c.request_id)
    await phase(outcome, "continuing", lost, lambda c: c.status != "interrupted")
    hosts = await asyncio.to_thread(reply_hosts, database_url, [c.reply_id for c in lost])
    for name in hosts.values():  # only replies still streaming have a process: the rest finished already
        outcome.continued_on[name] = outcome.continued_on.get(name, 0) + 1
    await phase(outcome, "continued", lost, lambda c: c.status == "complete")
    for c in lost:
        content = c.reply["content"]
        if content.startswith(saved_text[c.reply_id]) and len(content) > len(saved_text[c.reply_id]):
            outcome.continued += 1
        else:
            outcome.failures.append(f"conversation {c.index}: the continued reply does not go on from its saved text")


def summary(outcome: Outcome) -> str:
    lost = outcome.hosts.get(f"parley-h{LOST_HOST}", 0)
    return "\n".join(
        [
            f"Multi-host failover: {outcome.plan.conversations} conversations, replies per host {outcome.hosts}",
            f"Host {LOST_HOST} cut and killed with {lost} replies streaming; phases (s): {outcome.seconds}",
            f"Interrupted: {outcome.interrupted}/{lost}; resumed on another host with exactly the saved text: "
            f"{outcome.resumed_exactly}/{lost}; continued: {outcome.continued}/{lost}, on {outcome.continued_on}",
            f"Elsewhere: complete with exactly their text {outcome.completed_exactly}, untouched "
            f"{outcome.untouched} of {outcome.plan.conversations - lost}; reconnects {outcome.reconnects}",
            *(f"FAILED: {failure}" for failure in outcome.failures[:20]),
            f"Result: {'ok' if outcome.ok else 'FAILED'}",
        ]
    )
