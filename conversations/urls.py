from __future__ import annotations

from django.urls import include, path

from . import api, health, metrics_endpoint, transfer_api, views
from .catalog import api as catalog_api
from .search import api as search_api
from .usage import views as usage_views

urlpatterns = [
    path("", include("conversations.attachments.urls")),
    path("", views.chat, name="chat"),
    path("c/<uuid:conversation_id>/", views.chat, name="conversation"),
    path("usage/", usage_views.usage, name="usage"),
    path("api/models/", catalog_api.model_list, name="api-models"),
    path("api/search/", search_api.search, name="api-search"),
    path("api/conversations/", api.conversation_collection, name="api-conversations"),
    path("api/conversations/<str:conversation_id>/", api.conversation_detail, name="api-conversation"),
    path("api/conversations/<str:conversation_id>/messages/", api.conversation_messages, name="api-messages"),
    path("api/conversations/<str:conversation_id>/regenerate/", api.conversation_regenerate, name="api-regenerate"),
    path("api/conversations/<str:conversation_id>/continue/", api.conversation_continue, name="api-continue"),
    path("api/conversations/<str:conversation_id>/stop/", api.conversation_stop, name="api-stop"),
    path(
        "api/conversations/<str:conversation_id>/messages/<str:message_id>/edit/",
        api.message_edit,
        name="api-message-edit",
    ),
    path("api/conversations/<str:conversation_id>/branch/", api.branch_select, name="api-branch"),
    path("api/conversations/<str:conversation_id>/export/", transfer_api.conversation_export, name="api-export"),
    path("api/exports/", transfer_api.export_all, name="api-export-all"),
    path("api/imports/", transfer_api.import_collection, name="api-imports"),
    path("healthz", health.healthz, name="healthz"),
    path("metrics", metrics_endpoint.metrics, name="metrics"),
]
