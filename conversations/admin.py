"""Django admin: browse conversations with their messages, filter, search and export them."""

from __future__ import annotations

import io
import zipfile

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from . import access_admin  # noqa: F401  (registers the API token admin)
from .exports import export_json, export_markdown
from .models import Conversation, Message

RECORD_FIELDS = (
    "status",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "started_at",
    "finished_at",
    "seq",
    "error",
    "worker",
    "heartbeat_at",
)


class MessageInline(admin.StackedInline):
    model = Message
    extra = 0
    ordering = ("position",)
    fields = ("position", "role", "content", *RECORD_FIELDS)
    readonly_fields = RECORD_FIELDS


def export_response(queryset: QuerySet[Conversation], render, extension: str, content_type: str) -> HttpResponse:
    """One file for one conversation, a zip of files for several."""
    conversations = list(queryset.select_related("owner"))
    if len(conversations) == 1:
        response = HttpResponse(render(conversations[0]), content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="conversation-{conversations[0].id}.{extension}"'
        return response
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for conversation in conversations:
            archive.writestr(f"conversation-{conversation.id}.{extension}", render(conversation))
    response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="conversations-{extension}.zip"'
    return response


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "model", "message_count", "created_at", "updated_at")
    list_filter = ("messages__status", "messages__model", "owner", "created_at")
    search_fields = ("title", "messages__content")
    readonly_fields = ("id", "created_at", "updated_at")
    list_select_related = ("owner",)
    inlines = [MessageInline]
    actions = ["export_as_json", "export_as_markdown"]

    @admin.display(description="messages")
    def message_count(self, conversation: Conversation) -> int:
        return conversation.messages.count()

    @admin.action(description="Export selected conversations as JSON")
    def export_as_json(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> HttpResponse:
        return export_response(queryset, export_json, "json", "application/json")

    @admin.action(description="Export selected conversations as Markdown")
    def export_as_markdown(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> HttpResponse:
        return export_response(queryset, export_markdown, "md", "text/markdown; charset=utf-8")

    def get_search_results(self, request, queryset, search_term):
        results, _ = super().get_search_results(request, queryset, search_term)
        return results.distinct(), False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("conversation", "role", "status", "model", "completion_tokens", "created_at")
    list_filter = ("status", "role", "model", "created_at")
    search_fields = ("content", "conversation__title")
    readonly_fields = ("id", "conversation", "created_at", *RECORD_FIELDS)
    list_select_related = ("conversation",)
