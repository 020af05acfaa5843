"""Closing live sockets whose login ended: logout, password change or session expiry.

A socket authenticates once, at the handshake; these hooks make the end of a session
reach every process's open sockets within seconds, through the channel layer.

Sessions are loaded through SESSION_ENGINE, as the socket's own authentication loads them. The
signed-cookie engine keeps nothing on the server: logout still closes the sockets opened with
that cookie, and a password change still ends every session (the cookie carries the password
hash), but a copy of the cookie stays valid until it expires, as Django documents for it.
"""

from __future__ import annotations

import asyncio
import logging
from importlib import import_module

from asgiref.sync import async_to_sync
from channels.auth import get_user
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model, user_logged_out
from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

logger = logging.getLogger(__name__)

SESSION_ENDED = 1008  # WebSocket close code: policy violation, here "log in again"
RECHECK_DELAY = 1.0  # lets a password-change view re-sign its own session first


def user_group(user_pk) -> str:
    return f"user.{user_pk}"


def announce(user_pk, **event) -> None:
    try:
        async_to_sync(get_channel_layer().group_send)(user_group(user_pk), {"type": "session.revoked", **event})
    except Exception:  # a dead layer must not break logout; expiry timers still apply
        logger.exception("Could not announce session revocation for user %s", user_pk)


@receiver(user_logged_out)
def close_sockets_of_logged_out_session(sender, request, user, **kwargs) -> None:
    if user is not None and request.session.session_key:
        announce(user.pk, session=request.session.session_key)


@receiver(pre_save, sender=get_user_model())
def note_password_change(sender, instance, **kwargs) -> None:
    instance._parley_password_changed = instance._password is not None and instance.pk is not None


@receiver(post_save, sender=get_user_model())
def recheck_sockets_after_password_change(sender, instance, created, **kwargs) -> None:
    if getattr(instance, "_parley_password_changed", False):
        transaction.on_commit(lambda: announce(instance.pk, recheck=True))


async def session_is_valid(session_key: str | None, user_pk) -> bool:
    """Whether this session still logs in the same user (expiry and password hash included)."""
    if not session_key:
        return False
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = await get_user({"session": session})
    return user.is_authenticated and user.pk == user_pk


class SessionGuard:
    """Watches one socket's session and closes the socket when the session ends."""

    def __init__(self, consumer) -> None:
        self.consumer = consumer
        self.session_key = consumer.scope["session"].session_key
        self.timer: asyncio.TimerHandle | None = None
        self.checks: set[asyncio.Task] = set()  # the loop keeps only weak references to tasks

    async def start(self) -> None:
        await self.consumer.join(user_group(self.consumer.user.pk))
        age = self.consumer.scope["session"].get_expiry_age()  # loaded already by the auth middleware
        self.timer = asyncio.get_running_loop().call_later(age + 1, self.schedule_check, 0)

    async def stop(self) -> None:
        if self.timer:
            self.timer.cancel()
        for check in self.checks:
            check.cancel()
        await self.consumer.leave(user_group(self.consumer.user.pk))

    async def on_revoked(self, event: dict) -> None:
        if event.get("session") == self.session_key:
            await self.consumer.close(code=SESSION_ENDED)
        elif event.get("recheck"):
            self.schedule_check(RECHECK_DELAY)

    def schedule_check(self, delay: float) -> None:
        check = asyncio.get_running_loop().create_task(self.check(delay))
        self.checks.add(check)
        check.add_done_callback(self.checks.discard)

    async def check(self, delay: float) -> None:
        await asyncio.sleep(delay)
        if not await session_is_valid(self.session_key, self.consumer.user.pk):
            await self.consumer.close(code=SESSION_ENDED)
