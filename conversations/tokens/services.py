"""Personal API tokens: issue, authenticate and revoke; announce their end to every process.

A token is `parley_` and 43 URL-safe characters (256 random bits). Only its SHA-256 digest is
stored: a fast hash is enough for a secret with that much entropy, and it lets a request find its
token with one indexed lookup. Every revocation, expiry edit or deletion, from the settings page,
the admin or code, is announced to every process, which ends that token's streams at once, or
moves their expiry timers to the token's new expiry.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from datetime import timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from ..models import ApiToken

logger = logging.getLogger(__name__)

SCHEME = "parley_"
PREFIX_LENGTH = len(SCHEME) + 6
NAME_MAX = ApiToken._meta.get_field("name").max_length
TOKEN_GROUP = "parley.api-tokens"  # every process's stream watcher listens here (openai_api/watch.py)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def token_create(*, owner: AbstractBaseUser, name: str, expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """A new token and its secret; the secret is not stored and cannot be shown again."""
    secret = SCHEME + secrets.token_urlsafe(32)
    expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
    token = ApiToken.objects.create(
        owner=owner,
        name=name.strip()[:NAME_MAX] or "API token",
        prefix=secret[:PREFIX_LENGTH],
        digest=digest(secret),
        expires_at=expires_at,
    )
    return token, secret


def token_revoke(*, owner: AbstractBaseUser, token_id: uuid.UUID | str) -> bool:
    """Revoke one of the owner's tokens; False when there is no such token of theirs."""
    try:
        token = ApiToken.objects.get(id=token_id, owner=owner, revoked_at__isnull=True)
    except (ApiToken.DoesNotExist, ValidationError, ValueError):  # a malformed id is just missing
        return False
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    return True


def token_authenticate(secret: str) -> ApiToken | None:
    """The active token with this secret, its owner loaded; None for anything else."""
    if not secret.startswith(SCHEME):
        return None
    try:
        token = ApiToken.objects.select_related("owner").get(digest=digest(secret))
    except ApiToken.DoesNotExist:
        return None
    now = timezone.now()
    if not token.is_active(now) or not token.owner.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(id=token.id).update(last_used_at=now)  # at most one write a minute
    return token


def announce(token: ApiToken, *, deleted: bool = False) -> None:
    """Tell every process what became of this token (after the caller's commit): ended, or usable
    until its expiry, which may have moved (openai_api/watch.py)."""
    event = {
        "type": "token.changed",
        "id": str(token.id),
        "active": not deleted and token.is_active(),
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
    }

    def send() -> None:
        try:
            async_to_sync(get_channel_layer().group_send)(TOKEN_GROUP, event)
        except Exception:  # streams still check the token's expiry; a dead layer must not break the write
            logger.exception("Could not announce a change of API token %s", token.id)

    transaction.on_commit(send)


@receiver(post_save, sender=ApiToken)
def announce_changed_token(sender, instance: ApiToken, created: bool, **kwargs) -> None:
    if not created:
        announce(instance)


@receiver(post_delete, sender=ApiToken)
def announce_deleted_token(sender, instance: ApiToken, **kwargs) -> None:
    announce(instance, deleted=True)
