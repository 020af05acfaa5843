from __future__ import annotations

from django.urls import path

from . import api, health, views

urlpatterns = [
    path("", views.chat, name="chat"),
    path("c/<uuid:conversation_id>/", views.chat, name="conversation"),
    path("accounts/signup/", views.signup, name="signup"),
    path("api/conversations/", api.conversation_collection, name="api-conversations"),
    path("api/conversations/<str:conversation_id>/", api.conversation_detail, name="api-conversation"),
    path("healthz", health.healthz, name="healthz"),
]
