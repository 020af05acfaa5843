"""ASGI entry point: HTTP goes to Django, WebSockets through origin and session checks."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
# Django must be set up before anything imports models, so this comes first.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chatsite import compat  # noqa: E402
from chatsite.origins import OriginValidator  # noqa: E402
from chatsite.routing import websocket_urlpatterns  # noqa: E402
from chatsite.socket_auth import SocketAuthMiddleware  # noqa: E402

compat.apply()  # runserver serves this module too, and needs the close-code and frame-limit fixes

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginValidator(SocketAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)
