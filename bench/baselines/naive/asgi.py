"""ASGI entry of the `naive` baseline: python -m daphne bench.baselines.naive.asgi:application."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.baselines.naive.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from .consumers import ChatConsumer  # noqa: E402

urlpatterns: list = []  # no HTTP pages; ROOT_URLCONF points here
application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter([path("ws/conversations/<uuid:conversation_id>/", ChatConsumer.as_asgi())]),
    }
)
