"""The attachment endpoints (included from conversations/urls.py)."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("api/uploads/", views.upload_collection, name="api-uploads"),
    path("api/uploads/<uuid:upload_id>/", views.upload_detail, name="api-upload"),
    path("api/uploads/<uuid:upload_id>/content", views.upload_content, name="api-upload-content"),
]
