"""HTML pages: the chat app shell and sign-up. The page itself talks to the API and the socket."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

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
    }
    return render(request, "conversations/chat.html", {"parley_config": config})


def signup(request: HttpRequest) -> HttpResponse:
    """Open sign-up, available only while PARLEY_SIGNUP_ENABLED is on."""
    if not settings.PARLEY_SIGNUP_ENABLED:
        raise Http404("Sign-up is closed.")
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "registration/signup.html", {"form": form})
