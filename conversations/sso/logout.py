"""Logout at the identity provider (OpenID Connect RP-initiated logout), when switched on.

mozilla-django-oidc's logout view asks `OIDC_OP_LOGOUT_URL_METHOD` where to send the browser
before it ends Parley's session: here, the provider's `end_session_endpoint` (from discovery), with
the ID token of this session as `id_token_hint` and Parley's login page as the address to come back
to. A session that did not come from single sign-on, or a provider without that endpoint, just
ends Parley's session, as before.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest
from django.shortcuts import resolve_url
from mozilla_django_oidc.views import OIDCLogoutView

from .discovery import discover, oidc_setting

logger = logging.getLogger(__name__)

ID_TOKEN_SESSION_KEY = "oidc_id_token"  # where mozilla-django-oidc keeps it (OIDC_STORE_ID_TOKEN)


def provider_logout_url(request: HttpRequest) -> str:
    """Where the browser goes to end its session at the provider too; Parley's own page otherwise."""
    back = request.build_absolute_uri(resolve_url(settings.LOGOUT_REDIRECT_URL))
    id_token = request.session.get(ID_TOKEN_SESSION_KEY)
    if not id_token:
        return back
    endpoint = discover(settings.PARLEY_OIDC_ISSUER).get("end_session_endpoint")
    if not endpoint:
        logger.warning("The OIDC provider offers no end_session_endpoint: logging out of Parley only")
        return back
    query = urlencode(
        {"id_token_hint": id_token, "client_id": settings.OIDC_RP_CLIENT_ID, "post_logout_redirect_uri": back}
    )
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


class ParleyOIDCLogoutView(OIDCLogoutView):
    """Parley's logout (POST /accounts/logout/) while single sign-on is configured."""

    get_settings = staticmethod(oidc_setting)
