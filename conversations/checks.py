"""System checks that refuse configurations which silently void a defence."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security)
def check_wildcard_allowed_hosts(app_configs, **kwargs) -> list[Error]:
    """A "*" in ALLOWED_HOSTS makes the WebSocket origin check accept every site."""
    if settings.DEBUG or "*" not in settings.ALLOWED_HOSTS:
        return []
    return [
        Error(
            "DJANGO_ALLOWED_HOSTS contains '*', which makes the WebSocket origin check accept "
            "any website and so allows cross-site WebSocket hijacking.",
            hint="List the exact host names this server answers to, e.g. DJANGO_ALLOWED_HOSTS=chat.example.com.",
            id="parley.E001",
        )
    ]
