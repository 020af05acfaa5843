"""Account pages of Parley's own, under /accounts/, ahead of django.contrib.auth's (which they override)."""

from __future__ import annotations

from django.urls import path

from . import accounts

urlpatterns = [
    path("signup/", accounts.signup, name="signup"),
    path("password_reset/", accounts.RateLimitedPasswordResetView.as_view(), name="password_reset"),
]
