"""Ending a token's calls the moment the token ends, on every process.

Each process listens on the channel-layer group `tokens.TOKEN_GROUP`, where every revocation,
expiry change or deletion is announced, and cuts the calls it runs for that token. A token with an
expiry also gets a timer per call, which an announced change moves to the new expiry. The listener
runs as a task of the generation worker, so it starts and stops with the process's other loops.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import defaultdict
from datetime import datetime

from django.utils import timezone

from .. import generation
from ..models import ApiToken
from ..tokens import services as tokens
from .calls import Call, failure

logger = logging.getLogger(__name__)

REVOKED = "This API token was revoked or has expired."


REJOIN_EVERY = 3600.0  # seconds; channel-layer group membership expires (a day, by default)


class TokenWatcher:
    def __init__(self) -> None:
        self.calls: dict[str, set[Call]] = defaultdict(set)
        self.listening = asyncio.Event()  # set once subscribed: no call starts before that

    def watch(self, call: Call, token: ApiToken) -> None:
        self.calls[call.token_id].add(call)
        self.time(call, token.expires_at)

    def time(self, call: Call, expires_at: datetime | None) -> None:
        """Cut the call at `expires_at` (none: never), replacing the timer it had."""
        if call.expiry is not None:
            call.expiry.cancel()
            call.expiry = None
        if expires_at is not None:
            delay = (expires_at - timezone.now()).total_seconds()
            call.expiry = asyncio.get_running_loop().call_later(max(delay, 0), self.cut, call)

    def forget(self, call: Call) -> None:
        calls = self.calls.get(call.token_id)
        if calls is not None:
            calls.discard(call)
            if not calls:
                del self.calls[call.token_id]
        if call.expiry is not None:
            call.expiry.cancel()

    def cut(self, call: Call) -> None:
        call.cut(failure(REVOKED, "invalid_api_key", status=401, kind="invalid_request_error"))

    def token_changed(self, event: dict) -> None:
        """Cut the token's calls if it ended, else time them to its expiry as it is now."""
        expires_at = datetime.fromisoformat(event["expires_at"]) if event.get("expires_at") else None
        for call in list(self.calls.get(event.get("id", ""), ())):
            if event.get("active"):
                self.time(call, expires_at)
            else:
                self.cut(call)

    async def listen(self, layer) -> None:
        channel = await layer.new_channel("parley.api-tokens.")
        try:
            while True:
                await layer.group_add(tokens.TOKEN_GROUP, channel)
                self.listening.set()
                try:
                    async with asyncio.timeout(REJOIN_EVERY):
                        while True:
                            message = await layer.receive(channel)
                            if message.get("type") == "token.changed":
                                self.token_changed(message)
                except TimeoutError:
                    continue
        finally:
            await asyncio.shield(layer.group_discard(tokens.TOKEN_GROUP, channel))


_watchers: weakref.WeakKeyDictionary[generation.Worker, TokenWatcher] = weakref.WeakKeyDictionary()


async def get_watcher() -> TokenWatcher:
    """This process's watcher, listening from its first call on."""
    worker = await generation.get_worker()
    if worker not in _watchers:
        watcher = _watchers[worker] = TokenWatcher()
        worker.spawn(watcher.listen(worker.layer), "parley-token-watch")
    watcher = _watchers[worker]
    await watcher.listening.wait()
    return watcher
