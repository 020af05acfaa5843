"""Export and import for users: one conversation as JSON or Markdown, all as a zip, and importing a
file (docs/export.md). Owner-only: someone else's conversation reads as missing."""

from __future__ import annotations

import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.text import slugify

from . import exports, selectors
from .http import ApiError, api_view
from .imports import reading, services
from .imports.shapes import ImportRejected
from .protocol import conversation_payload

FORMATS = {
    "json": (exports.export_json, "json", "application/json"),
    "markdown": (exports.export_markdown, "md", "text/markdown; charset=utf-8"),
}
FORM_TYPES = re.compile(r"^(multipart/form-data|application/x-www-form-urlencoded)\b")


@api_view("GET")
def conversation_export(request: HttpRequest, conversation_id: str) -> HttpResponse:
    """`?format=json` (the default: the whole tree) or `markdown` (the branch shown), as a download."""
    conversation = selectors.conversation_get(user=request.user, conversation_id=conversation_id)
    if conversation is None:
        raise ApiError(404, "Conversation not found.", code="not_found")
    chosen = request.GET.get("format", "json")
    if chosen not in FORMATS:
        raise ApiError(400, "format must be json or markdown.", field="format", code="invalid_field")
    render, extension, content_type = FORMATS[chosen]
    name = f"{slugify(conversation.title)[:60] or 'conversation'}-{str(conversation.id)[:8]}.{extension}"
    return download(render(conversation).encode("utf-8"), content_type, name)


@api_view("GET")
def export_all(request: HttpRequest) -> HttpResponse:
    """Every conversation of the user as one zip: manifest.json, then JSON and Markdown for each."""
    archive = exports.export_archive(selectors.conversation_list_all(user=request.user))
    return download(archive, "application/zip", f"parley-export-{timezone.now():%Y-%m-%d}.zip")


def download(body: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@api_view("POST")
def import_collection(request: HttpRequest) -> HttpResponse:
    """The file itself is the body (JSON or zip); 201 with the conversations made, or an error and nothing saved."""
    limit = settings.PARLEY_IMPORT_MAX_BYTES
    if FORM_TYPES.match(request.content_type or ""):
        raise ApiError(415, "Send the file itself as the request body, not a form.", code="invalid_import")
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        raise ApiError(400, "Content-Length is not a number.") from None
    try:
        if length > limit:  # refused before the body is read
            raise reading.too_large(limit)
        data = request.read(limit + 1)
        if not data:
            raise ImportRejected("The request has no file: send a JSON or zip export as its body.")
        imported = reading.read_file(data, max_bytes=limit)
    except ImportRejected as rejected:
        raise ApiError(rejected.status, rejected.detail, code=rejected.code) from None
    created = services.conversations_import(owner=request.user, conversations=imported)
    body = {
        "imported": len(created),
        "skipped_messages": sum(conversation.skipped for conversation in imported),
        "conversations": [conversation_payload(conversation) for conversation in created],
    }
    return JsonResponse(body, status=201)
