"""Personal API tokens: the owner's list (never a secret: only digests are stored)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from ..models import ApiToken


def token_list(*, owner: AbstractBaseUser) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(owner=owner).order_by("-created_at")
