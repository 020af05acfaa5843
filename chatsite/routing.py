"""WebSocket URL routes."""

from __future__ import annotations

from django.urls import path

from conversations.console.consumer import ConsoleConsumer
from conversations.consumers import ConversationConsumer

websocket_urlpatterns = [
    path("ws/conversations/<uuid:conversation_id>/", ConversationConsumer.as_asgi()),
    path("ws/console/", ConsoleConsumer.as_asgi()),
]
