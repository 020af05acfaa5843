from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from conversations.accounts import views as accounts

urlpatterns = [
    *([] if settings.PARLEY_PASSWORD_LOGIN else [path("admin/login/", accounts.admin_login)]),
    path("admin/", admin.site.urls),
    path("accounts/", include("conversations.accounts.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("settings/tokens/", include("conversations.tokens.urls")),
    path("v1/", include("conversations.openai_api.urls")),
    path("", include("conversations.sharing.urls")),
    *([path("oidc/", include("mozilla_django_oidc.urls"))] if settings.PARLEY_OIDC_ISSUER else []),
    path("", include("conversations.urls")),
]
