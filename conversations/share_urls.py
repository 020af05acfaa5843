from __future__ import annotations

from django.urls import path

from . import share_api, share_views

urlpatterns = [
    path("s/<uuid:share_id>/", share_views.share_view, name="share-view"),
    path("api/conversations/<str:conversation_id>/shares/", share_api.conversation_shares, name="api-shares"),
    path("api/shares/<str:share_id>/", share_api.share_detail, name="api-share"),
]
