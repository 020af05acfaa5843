"""Session and user for a WebSocket, without wrapping the socket's `send`.

Channels' AuthMiddlewareStack wraps `send` so an HTTP response can save the session and set its
cookie. A socket never does either, yet every frame sent still paid for the wrapper's lazy-object
checks, a visible share of server CPU while streaming (docs/performance.md). This
loads the same session and user (Channels' `get_user`, one worker-thread trip, hash verified)
and hands `send` through untouched. Sockets only read the session; login and logout are HTTP.
"""

from __future__ import annotations

from importlib import import_module

from channels.auth import get_user
from django.conf import settings
from django.http import parse_cookie


class SocketAuthMiddleware:
    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        cookies: dict[str, str] = {}
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                cookies.update(parse_cookie(value.decode("latin-1")))
        session = import_module(settings.SESSION_ENGINE).SessionStore(cookies.get(settings.SESSION_COOKIE_NAME))
        scope = dict(scope, cookies=cookies, session=session)
        scope["user"] = await get_user(scope)
        return await self.inner(scope, receive, send)
