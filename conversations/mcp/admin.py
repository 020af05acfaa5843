"""Registering MCP servers in the Django admin; saving one makes every process list it again soon."""

from __future__ import annotations

from django.contrib import admin

from ..models import McpServer
from . import toolbox


@admin.register(McpServer)
class McpServerAdmin(admin.ModelAdmin):
    list_display = ["name", "url", "enabled", "last_error", "last_checked_at"]
    list_filter = ["enabled"]
    readonly_fields = ["last_error", "last_checked_at", "created_at"]
    search_fields = ["name", "url"]

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        toolbox.reset()  # this process at once; others within PARLEY_MCP_REFRESH
