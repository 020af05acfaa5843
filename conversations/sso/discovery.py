"""The provider's endpoints, read once from its discovery document (`<issuer>/.well-known/openid-configuration`).

mozilla-django-oidc wants each endpoint as a setting; Parley is configured with the issuer alone,
so `oidc_setting` answers those settings from discovery and every other one from Django's settings.
"""

from __future__ import annotations

import functools

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from mozilla_django_oidc.utils import import_from_settings

ENDPOINTS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}


@functools.cache
def discover(issuer: str) -> dict:
    """The issuer's discovery document; its `issuer` must be the one configured (OIDC Discovery 4.3)."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT, verify=settings.OIDC_VERIFY_SSL)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as error:
        discover.cache_clear()  # try again on the next login
        raise ImproperlyConfigured(f"Could not read the OIDC discovery document at {url}: {error}") from error
    if document.get("issuer") != issuer:
        discover.cache_clear()
        raise ImproperlyConfigured(f"The discovery document at {url} names another issuer: {document.get('issuer')}")
    return document


def oidc_setting(attr: str, *default):
    if attr in ENDPOINTS:
        return discover(settings.PARLEY_OIDC_ISSUER)[ENDPOINTS[attr]]
    return import_from_settings(attr, *default)
