"""The page a share link opens: the conversation, read-only, rendered like the chat page."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from . import selectors as shares


def share_view(request: HttpRequest, share_id) -> HttpResponse:
    link = shares.share_get_active(link_id=share_id)
    if link is None:
        raise Http404("This link does not exist or was revoked.")
    if not shares.may_view(link, request.user):
        return redirect_to_login(request.get_full_path())
    config = {
        "shareId": str(link.id),
        "mode": link.mode,
        "trustedImageHosts": settings.PARLEY_TRUSTED_IMAGE_HOSTS,
    }
    context = {
        "parley_config": config,
        "title": link.conversation.title,
        "owner": link.conversation.owner.get_username() if link.show_owner else None,
        "mode": link.mode,
    }
    response = render(request, "conversations/share.html", context)
    response["Referrer-Policy"] = "no-referrer"  # the link is the secret: never leak it onward
    response["X-Robots-Tag"] = "noindex"
    return response
