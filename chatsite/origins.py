"""The WebSocket origin check: one bare http(s) origin, naming the host and port the socket was opened on.

Channels' AllowedHostsOriginValidator compares host names only, so a page on the same host at another
port (any other local web app) could open sockets carrying the user's cookies, which browsers do not
scope by port. This adds the rule Django's CSRF check applies to a POST's Origin, then defers to it.
"""

from __future__ import annotations

import re

from channels.security.websocket import AllowedHostsOriginValidator, WebsocketDenier
from django.conf import settings

BARE_ORIGIN = re.compile(r"(https?)://([^/?#@\s,]+)")  # scheme://host[:port], nothing else
DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def same_origin(headers: list[tuple[bytes, bytes]]) -> bool:
    """Exactly one Origin header, equal to this request's own origin or listed in CSRF_TRUSTED_ORIGINS."""
    origins = [value.decode("latin-1") for name, value in headers if name == b"origin"]
    hosts = [value.decode("latin-1") for name, value in headers if name == b"host"]
    if len(origins) != 1:
        return False
    if origins[0] in settings.CSRF_TRUSTED_ORIGINS:
        return True
    match = BARE_ORIGIN.fullmatch(origins[0])
    if match is None:
        return False
    if not hosts:  # only in-process ASGI test clients omit Host; every HTTP/1.1 handshake has it
        return True
    scheme, netloc = match.groups()
    return _without_default_port(netloc, scheme) == _without_default_port(hosts[0], scheme)


def _without_default_port(netloc: str, scheme: str) -> str:
    netloc = netloc.lower()
    return netloc.removesuffix(DEFAULT_PORTS[scheme])


def OriginValidator(application):
    """Refuse cross-origin handshakes, then apply Channels' ALLOWED_HOSTS check."""
    allowed_hosts = AllowedHostsOriginValidator(application)

    async def validate(scope, receive, send):
        if not same_origin(scope.get("headers", [])):
            return await WebsocketDenier()(scope, receive, send)
        return await allowed_hosts(scope, receive, send)

    return validate
