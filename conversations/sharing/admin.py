"""Admin for share links, with a revoke action that closes their viewers."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from ..models import ShareLink
from . import services


@admin.register(ShareLink)
class ShareLinkAdmin(admin.ModelAdmin):
    list_display = ("id", "conversation", "mode", "login_required", "show_owner", "created_at", "revoked_at")
    list_filter = ("mode", "login_required", "revoked_at")
    search_fields = ("conversation__title", "conversation__owner__username")
    readonly_fields = ("conversation", "mode", "upto_message", "created_at", "revoked_at")
    fields = ("conversation", "mode", "login_required", "show_owner", "upto_message", "created_at", "revoked_at")
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # owners create links from the conversation's menu

    @admin.action(description="Revoke selected links (closes their viewers)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ShareLink]) -> None:
        for link in queryset.filter(revoked_at__isnull=True):
            services.share_revoke(link=link)

    def delete_model(self, request: HttpRequest, obj: ShareLink) -> None:
        services.announce_revoked(obj.id)
        super().delete_model(request, obj)
