from __future__ import annotations

from django.urls import path

from . import api, views

urlpatterns = [
    path("s/<uuid:share_id>/", views.share_view, name="share-view"),
    path("api/conversations/<str:conversation_id>/shares/", api.conversation_shares, name="api-shares"),
    path("api/shares/<str:share_id>/", api.share_detail, name="api-share"),
]
