"""WebSocket URL routes."""

from __future__ import annotations

from django.urls import path

from conversations.console.consumer import ConsoleConsumer
from conversations.consumers import ConversationConsumer
from conversations.list_consumer import ConversationListConsumer
from conversations.sharing.consumer import ShareViewerConsumer

websocket_urlpatterns = [
    path("ws/conversations/", ConversationListConsumer.as_asgi()),
    path("ws/conversations/<uuid:conversation_id>/", ConversationConsumer.as_asgi()),
    path("ws/console/", ConsoleConsumer.as_asgi()),
    path("ws/shares/<uuid:share_id>/", ShareViewerConsumer.as_asgi()),
]
