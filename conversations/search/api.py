"""`GET /api/search/?q=`: the user's matching titles and messages as JSON, best first."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django_ratelimit.core import is_ratelimited

from .. import protocol
from ..http import ApiError, api_view
from . import selectors
from .hits import Hit

QUERY_MAX_LENGTH = 200  # characters of `q`; a search box needs no more
LIMIT_DEFAULT, LIMIT_MAX = 20, 50


@api_view("GET")
def search(request: HttpRequest) -> HttpResponse:
    if is_ratelimited(request, group="search", key="user", rate=settings.PARLEY_SEARCH_RATE, increment=True):
        raise ApiError(429, "Too many searches; wait a moment and try again.", code="rate_limited")
    text = clean_query(request.GET.get("q", ""))
    limit = clean_limit(request.GET.get("limit"))
    hits = selectors.search_hits(user=request.user, text=text, limit=limit)
    return JsonResponse({"query": text, "results": [hit_payload(hit) for hit in hits]})


def clean_query(value: str) -> str:
    text = value.strip()
    if not text:
        raise ApiError(400, "q is required: the words to search for.", field="q", code="invalid")
    if len(text) > QUERY_MAX_LENGTH:
        raise ApiError(400, f"q is longer than {QUERY_MAX_LENGTH} characters.", field="q", code="invalid")
    if protocol.has_forbidden_characters(text):
        raise ApiError(400, protocol.FORBIDDEN_DETAIL.format(name="q"), field="q", code="invalid")
    return text


def clean_limit(value: str | None) -> int:
    if value is None:
        return LIMIT_DEFAULT
    if not value.isdigit() or not 1 <= int(value) <= LIMIT_MAX:
        raise ApiError(400, f"limit must be a whole number from 1 to {LIMIT_MAX}.", field="limit", code="invalid")
    return int(value)


def hit_payload(hit: Hit) -> dict[str, Any]:
    """One result; `url` opens the conversation at the message (app.js reads `?message=`)."""
    url = reverse("conversation", args=[hit.conversation_id])
    return {
        "conversation_id": str(hit.conversation_id),
        "conversation_title": hit.conversation_title,
        "archived": hit.conversation_archived,  # archived chats are found too, and say so
        "message_id": None if hit.message_id is None else str(hit.message_id),
        "role": hit.role,
        "snippet": hit.snippet,
        "rank": hit.rank,
        "created_at": hit.created_at.isoformat(),
        "url": url if hit.message_id is None else f"{url}?message={hit.message_id}",
    }
