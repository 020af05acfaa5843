"""Who an OpenID Connect login is: found by issuer and subject, linked by email only when allowed.

A returning identity is found by its `sub`. A new one gets a new account, unless linking by email
is switched on (PARLEY_OIDC_LINK_BY_EMAIL) and the provider says the email is verified: then it
joins the one account that has that email. Each login sets the account's groups to the groups
claim, and its staff status from PARLEY_OIDC_STAFF_GROUPS. Superuser is never granted by the provider.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.utils.crypto import get_random_string
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationRequestView

from ..models import ExternalIdentity
from .discovery import oidc_setting

logger = logging.getLogger(__name__)


class ParleyOIDCBackend(OIDCAuthenticationBackend):
    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args, **kwargs) -> None:
        """Django builds every backend for every login: the provider's endpoints are read when a
        login callback needs them, so a password login never waits on (or fails with) the provider."""
        self.UserModel = get_user_model()

    def authenticate(self, request, **kwargs):
        if request is None or not request.GET.get("code"):
            return None
        super().__init__()  # reads the endpoints, from discovery
        return super().authenticate(request, **kwargs)

    def verify_token(self, token, **kwargs):
        """The library checks the signature and nonce; the issuer and audience are checked here."""
        payload = super().verify_token(token, **kwargs)
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if payload.get("iss") != settings.PARLEY_OIDC_ISSUER or settings.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("The ID token was issued by another issuer or for another client.")
        self.subject = payload.get("sub")
        return payload

    def verify_claims(self, claims) -> bool:
        return bool(claims.get("sub")) and claims.get("sub") == getattr(self, "subject", None)

    def filter_users_by_claims(self, claims):
        identity = ExternalIdentity.objects.filter(issuer=settings.PARLEY_OIDC_ISSUER, subject=claims["sub"]).first()
        if identity is not None:
            return [identity.user]
        email = claims.get("email") or ""
        if settings.PARLEY_OIDC_LINK_BY_EMAIL and email and claims.get("email_verified") is True:
            users = list(self.UserModel.objects.filter(email__iexact=email)[:2])
            if len(users) == 1:
                return users
            if users:
                logger.warning("Not linking an SSO login by email: several accounts use %s", email)
        return []

    @transaction.atomic
    def create_user(self, claims):
        user = self.UserModel.objects.create_user(self.free_username(claims), email=verified_email(claims))
        user.set_unusable_password()
        user.save(update_fields=["password"])
        return self.update_user(user, claims)

    @transaction.atomic
    def update_user(self, user, claims):
        ExternalIdentity.objects.get_or_create(
            issuer=settings.PARLEY_OIDC_ISSUER, subject=claims["sub"], defaults={"user": user}
        )
        apply_groups(user, claims)
        return user

    def free_username(self, claims) -> str:
        wanted = claims.get("preferred_username") or (claims.get("email") or "").split("@")[0] or "user"
        wanted = wanted[:140]
        username = wanted
        while self.UserModel.objects.filter(username__iexact=username).exists():
            username = f"{wanted}-{get_random_string(6, 'abcdefghijklmnopqrstuvwxyz0123456789')}"
        return username


def verified_email(claims) -> str:
    return claims.get("email", "") if claims.get("email_verified") is True else ""


def apply_groups(user, claims) -> None:
    """The account's groups become the groups claim; staff status follows PARLEY_OIDC_STAFF_GROUPS."""
    names = claims.get(settings.PARLEY_OIDC_GROUPS_CLAIM) or []
    if isinstance(names, str):
        names = [names]
    names = [name for name in names if isinstance(name, str) and name][:100]
    user.groups.set([Group.objects.get_or_create(name=name[:150])[0] for name in names])
    if settings.PARLEY_OIDC_STAFF_GROUPS:
        user.is_staff = bool(set(names) & set(settings.PARLEY_OIDC_STAFF_GROUPS))
        user.save(update_fields=["is_staff"])


class ParleyOIDCRequestView(OIDCAuthenticationRequestView):
    """The login redirect to the provider, with its endpoint from discovery."""

    get_settings = staticmethod(oidc_setting)
