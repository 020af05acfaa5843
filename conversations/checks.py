"""System checks that refuse configurations which silently void a defence."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


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


@register(Tags.security)
def check_signed_cookie_sessions(app_configs, **kwargs) -> list[Warning]:
    """Signed-cookie sessions live only in the cookie, so logout cannot revoke a copy of one."""
    if settings.SESSION_ENGINE != "django.contrib.sessions.backends.signed_cookies":
        return []
    return [
        Warning(
            "With signed-cookie sessions, logout closes the sockets opened with that cookie, but a copy "
            "of the cookie still logs in and opens sockets until it expires.",
            hint="Use the db, cache or cached_db session engine, or keep SESSION_COOKIE_AGE short.",
            id="parley.W001",
        )
    ]


@register(Tags.security)
def check_metrics_allow_list(app_configs, **kwargs) -> list[Error]:
    """A typo in PARLEY_METRICS_ALLOW must not silently lock the scraper out (or let anyone in)."""
    invalid = []
    for entry in settings.PARLEY_METRICS_ALLOW:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            invalid.append(entry)
    if not invalid:
        return []
    return [
        Error(
            f"PARLEY_METRICS_ALLOW has entries that are not addresses or networks: {', '.join(invalid)}.",
            hint="Use addresses or CIDR networks, e.g. PARLEY_METRICS_ALLOW=127.0.0.1,::1,10.0.0.0/8.",
            id="parley.E002",
        )
    ]


@register()
def check_tools(app_configs, **kwargs) -> list[Error]:
    """A PARLEY_TOOLS entry that cannot be loaded is reported at start-up, not on the first reply."""
    from django.core.exceptions import ImproperlyConfigured

    from .tools.registry import configured_tools

    try:
        configured_tools()
    except ImproperlyConfigured as error:
        return [Error(str(error), hint="See docs/tools.md.", id="parley.E003")]
    return []


@register(Tags.security)
def check_single_sign_on(app_configs, **kwargs) -> list[Error]:
    """Password login switched off with no SSO, or SSO without its client, locks everyone out."""
    errors = []
    if not settings.PARLEY_PASSWORD_LOGIN and not settings.PARLEY_OIDC_ISSUER:
        errors.append(
            Error(
                "PARLEY_PASSWORD_LOGIN is off and PARLEY_OIDC_ISSUER is empty: nobody could log in.",
                hint="Configure single sign-on (PARLEY_OIDC_ISSUER, PARLEY_OIDC_CLIENT_ID, PARLEY_OIDC_CLIENT_SECRET).",
                id="parley.E003",
            )
        )
    if settings.PARLEY_OIDC_ISSUER and not (settings.OIDC_RP_CLIENT_ID and settings.OIDC_RP_CLIENT_SECRET):
        errors.append(
            Error(
                "PARLEY_OIDC_ISSUER is set but PARLEY_OIDC_CLIENT_ID or PARLEY_OIDC_CLIENT_SECRET is empty.",
                hint="Register Parley as a confidential client at the provider and set both.",
                id="parley.E004",
            )
        )
    return errors
