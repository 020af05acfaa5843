"""HTML pages: the chat app shell. The page itself talks to the API and the socket (sign-up: accounts.py)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from . import selectors


@login_required
def chat(request: HttpRequest, conversation_id: str | None = None) -> HttpResponse:
    """The chat app; a conversation id in the URL must be the user's own."""
    if conversation_id and selectors.conversation_get(user=request.user, conversation_id=conversation_id) is None:
        raise Http404("Conversation not found.")
    config = {
        "conversationId": conversation_id,
        "username": request.user.get_username(),
        "trustedImageHosts": settings.PARLEY_TRUSTED_IMAGE_HOSTS,
        "maxMessageBytes": settings.PARLEY_WS_MAX_FRAME,
        "importMaxBytes": settings.PARLEY_IMPORT_MAX_BYTES,
    }
    import_max_mb = f"{settings.PARLEY_IMPORT_MAX_BYTES / 1_048_576:g}"
    return render(request, "conversations/chat.html", {"parley_config": config, "import_max_mb": import_max_mb})
