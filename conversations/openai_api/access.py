"""Who may call the API and what they may use: bearer tokens, the models offered, the per-user cap."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from .. import accounting, quotas, selectors
from ..llm.base import Usage
from ..models import ApiCall, ApiToken, LLMModel, Message, UsageRecord
from ..tokens import services as tokens
from .errors import OpenAIError

LEASE_MARGIN = timedelta(seconds=30)  # a call's slot outlives its deadline by this, then frees itself


async def authenticate(request: HttpRequest) -> ApiToken:
    """The active token in `Authorization: Bearer <token>`, or a 401."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    token = None
    if scheme.lower() == "bearer" and secret.strip():
        token = await database_sync_to_async(tokens.token_authenticate)(secret.strip())
    if token is None:
        raise OpenAIError(401, "Invalid, expired or revoked API token.", "invalid_api_key")
    return token


def models_by_id(user: AbstractBaseUser) -> dict[str, LLMModel]:
    """The catalog models this user may use (the one access rule, `selectors.models_for_user`), by
    their API id: the upstream name, or `provider/name` where two providers offer the same name.
    `provider/name` is accepted for every model."""
    models = list(selectors.models_for_user(user=user))
    names = Counter(model.name for model in models)
    listed = {model.name if names[model.name] == 1 else qualified(model): model for model in models}
    return listed | {qualified(model): model for model in models}


def listed_ids(models: dict[str, LLMModel]) -> list[str]:
    """The ids `/v1/models` lists: one per model, in picker order."""
    first = {}
    for api_id, model in models.items():
        first.setdefault(model.id, api_id)
    return list(first.values())


def qualified(model: LLMModel) -> str:
    return f"{model.provider.name}/{model.name}"


def call_lease_acquire(*, token: ApiToken) -> ApiCall:
    """Take one of the owner's generation slots for an unsaved call, or a 429 at the cap.

    The owner's row is locked as `replies.reply_start` locks it, so a socket's send and an API call
    cannot both take the last slot; streaming replies and unexpired calls count alike.
    """
    owner, now = token.owner, timezone.now()
    with transaction.atomic():
        get_user_model().objects.select_for_update().values_list("pk").get(pk=owner.pk)
        running = Message.objects.filter(conversation__owner=owner, status=Message.Status.STREAMING).count()
        running += ApiCall.objects.filter(owner=owner, expires_at__gt=now).count()
        if running >= settings.PARLEY_MAX_GENERATIONS_PER_USER:
            raise OpenAIError(
                429, f"You already have {running} replies being generated; wait for one to finish.", "limit_reached"
            )
        reason = quotas.over_budget(user=owner, now=now)
        if reason:
            raise OpenAIError(429, reason, "quota_exceeded")
        deadline = timedelta(seconds=settings.PARLEY_GENERATION_DEADLINE)
        return ApiCall.objects.create(owner=owner, token=token, expires_at=now + deadline + LEASE_MARGIN)


def call_lease_release(*, lease_id) -> None:
    ApiCall.objects.filter(id=lease_id).delete()


def call_charge(*, owner: AbstractBaseUser, model: LLMModel, prompt: list[str], text: str, usage: Usage | None) -> None:
    """Count an unsaved call's tokens and cost against its owner's budgets, as a reply's are."""
    counted = accounting.reply_usage(
        reported_prompt=usage.prompt_tokens if usage else None,
        reported_completion=usage.completion_tokens if usage else None,
        prompt_texts=prompt,
        completion_text=text,
        input_per_mtok=model.input_per_mtok,
        output_per_mtok=model.output_per_mtok,
    )
    if counted.prompt_tokens or counted.completion_tokens:
        UsageRecord.objects.create(
            user=owner,
            model=model,
            model_label=model.display_name,
            upstream_model=model.name,
            provider=model.provider.name,
            prompt_tokens=counted.prompt_tokens,
            completion_tokens=counted.completion_tokens,
            cost_usd=counted.cost_usd,
            estimated=counted.estimated,
        )
