"""The share links' JSON API: create and list a conversation's links, revoke one."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse

from .. import selectors
from ..http import ApiError, api_view, read_json
from ..models import ShareLink
from . import selectors as shares
from . import services


@api_view("GET", "POST")
def conversation_shares(request: HttpRequest, conversation_id: str) -> HttpResponse:
    conversation = selectors.conversation_get(user=request.user, conversation_id=conversation_id)
    if conversation is None:
        raise ApiError(404, "Conversation not found.")
    if request.method == "POST":
        fields = share_fields(read_json(request))
        link = services.share_create(conversation=conversation, **fields)
        return JsonResponse(share_payload(request, link), status=201)
    links = shares.share_list(conversation=conversation)
    return JsonResponse({"results": [share_payload(request, link) for link in links]})


@api_view("DELETE")
def share_detail(request: HttpRequest, share_id: str) -> HttpResponse:
    link = shares.share_get_owned(user=request.user, link_id=share_id)
    if link is None:
        raise ApiError(404, "Share link not found.")
    services.share_revoke(link=link)
    return HttpResponse(status=204)


def share_fields(data: dict[str, Any]) -> dict[str, Any]:
    """`mode` ("live" or "snapshot"), `login_required` and optional `show_owner`, checked."""
    unknown = set(data) - {"mode", "login_required", "show_owner"}
    if unknown:
        raise ApiError(400, f"Unknown field(s): {', '.join(sorted(unknown))}.")
    if data.get("mode") not in ShareLink.Mode.values:
        raise ApiError(400, 'mode must be "live" or "snapshot".', field="mode")
    for name in ("login_required", "show_owner"):
        if not isinstance(data.get(name, False), bool):
            raise ApiError(400, f"{name} must be true or false.", field=name)
    if "login_required" not in data:
        raise ApiError(400, "login_required is required.", field="login_required")
    return {"mode": data["mode"], "login_required": data["login_required"], "show_owner": data.get("show_owner", False)}


def share_payload(request: HttpRequest, link: ShareLink) -> dict[str, Any]:
    return {
        "id": str(link.id),
        "url": request.build_absolute_uri(reverse("share-view", args=[link.id])),
        "mode": link.mode,
        "login_required": link.login_required,
        "show_owner": link.show_owner,
        "created_at": link.created_at.isoformat(),
    }
