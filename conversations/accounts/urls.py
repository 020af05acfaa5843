"""Account pages of Parley's own, under /accounts/, ahead of django.contrib.auth's (which they override)."""

from __future__ import annotations

from django.conf import settings
from django.urls import path

from ..sso.logout import ParleyOIDCLogoutView
from . import views

urlpatterns = [
    path("login/", views.ParleyLoginView.as_view(), name="login"),
    path("signup/", views.signup, name="signup"),
]
if settings.PARLEY_OIDC_PROVIDER_LOGOUT and settings.PARLEY_OIDC_ISSUER:  # ahead of django.contrib.auth's
    urlpatterns.append(path("logout/", ParleyOIDCLogoutView.as_view(), name="logout"))
if settings.PARLEY_PASSWORD_LOGIN:
    urlpatterns.append(path("password_reset/", views.RateLimitedPasswordResetView.as_view(), name="password_reset"))
else:  # no password to reset or change
    urlpatterns += [
        path("password_reset/", views.closed, name="password_reset"),
        path("password_change/", views.closed, name="password_change"),
    ]
