"""Template context every page needs."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def parley(request: HttpRequest) -> dict[str, bool]:
    """Whether to offer sign-up links (off when PARLEY_SIGNUP_ENABLED is off)."""
    return {"signup_enabled": settings.PARLEY_SIGNUP_ENABLED}
