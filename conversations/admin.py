"""Django admin: browse conversations with their messages, filter, search and export them; the
server processes, and the live console (conversations/console/) beside them."""

from __future__ import annotations

import io
import zipfile

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import path

from .catalog import admin as catalog_admin  # noqa: F401  (register the catalog's admin)
from .console import views as console_views
from .exports import export_json, export_markdown
from .mcp import admin as mcp_admin  # noqa: F401  (registers MCP servers)
from .models import Conversation, ExternalIdentity, LLMModel, Message, ServerProcess
from .sharing import admin as sharing_admin  # noqa: F401  (registers share links)
from .tokens import admin as tokens_admin  # noqa: F401  (registers API tokens)
from .usage import admin as usage_admin  # noqa: F401  (register usage's admin)

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
    list_display = ("title", "owner", "model_label", "message_count", "pinned", "archived", "created_at", "updated_at")
    list_filter = ("archived", "pinned", "messages__status", "messages__model", "owner", "created_at")
    search_fields = ("title", "messages__content")
    readonly_fields = ("id", "created_at", "updated_at")
    list_select_related = ("owner",)
    inlines = [MessageInline]
    actions = ["export_as_json", "export_as_markdown"]

    @admin.display(description="model")
    def model_label(self, conversation: Conversation) -> str:
        """The model by name; a deleted one (its id is kept on purpose) must not break the list."""
        if conversation.model_id is None:
            return "default"
        model = LLMModel.objects.filter(id=conversation.model_id).first()
        return str(model) if model else f"deleted model #{conversation.model_id}"

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


@admin.register(ServerProcess)
class ServerProcessAdmin(admin.ModelAdmin):
    """Processes as their last heartbeat left them; the live console's pages hang off this admin."""

    list_display = ("host", "pid", "heartbeat_at", "open_sockets", "running_replies", "started_at")
    readonly_fields = ("name", "host", "pid", "started_at", "heartbeat_at", "open_sockets", "running_replies")
    change_list_template = "conversations/console/process_list.html"

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_view_permission(request, obj) or request.user.has_perm(console_views.PERMISSION)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_urls(self):
        def console_view(view):
            return self.admin_site.admin_view(lambda request, **kwargs: view(request, self.admin_site, **kwargs))

        return [
            path("console/", console_view(console_views.console), name="conversations_serverprocess_console"),
            path("console/stop/", console_view(console_views.stop), name="conversations_serverprocess_stop"),
            path("console/sweep/", console_view(console_views.sweep), name="conversations_serverprocess_sweep"),
            path(
                "console/read/<uuid:conversation_id>/",
                console_view(console_views.read),
                name="conversations_serverprocess_read",
            ),
            *super().get_urls(),
        ]


@admin.register(ExternalIdentity)
class ExternalIdentityAdmin(admin.ModelAdmin):
    """Single sign-on identities; deleting one unlinks it (its next login makes or links an account anew)."""

    list_display = ("user", "issuer", "subject", "created_at")
    search_fields = ("user__username", "subject")
    readonly_fields = ("user", "issuer", "subject", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
