from __future__ import annotations

from django.urls import path

from . import token_views

urlpatterns = [
    path("", token_views.token_settings, name="api-tokens"),
    path("<uuid:token_id>/revoke/", token_views.token_revoke, name="api-token-revoke"),
]
