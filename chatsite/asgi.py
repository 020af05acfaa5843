"""ASGI entry point: HTTP goes to Django, WebSockets through origin and session checks."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
# Django must be set up before anything imports models, so this comes first.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

import chatsite.close_codes  # noqa: E402  (daphne: allow close code 1008)
import chatsite.lazy_debug  # noqa: E402  (autobahn: no pformat per connection)
import chatsite.outgoing_limit  # noqa: E402  (autobahn: the frame limit is for incoming messages only)
import chatsite.shared_options  # noqa: E402, F401  (autobahn: options not copied per connection)
from chatsite.origins import OriginValidator  # noqa: E402
from chatsite.routing import websocket_urlpatterns  # noqa: E402
from chatsite.socket_auth import SocketAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginValidator(SocketAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)
