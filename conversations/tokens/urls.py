from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("", views.token_settings, name="api-tokens"),
    path("<uuid:token_id>/revoke/", views.token_revoke, name="api-token-revoke"),
]
