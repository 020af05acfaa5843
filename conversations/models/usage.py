"""What replies cost, and what users may spend: one usage record per finished reply, and monthly budgets.

A usage record outlives its conversation (deleting a chat does not refund a budget) and keeps the
model's name and the cost computed at the prices of the moment, so later price changes rewrite no
history.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .catalog import LLMModel
from .chat import Message

COST = {"max_digits": 16, "decimal_places": 8}


class UsageRecord(models.Model):
    """The tokens and cost of one reply, as the provider reported them or, failing that, estimated."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_records")
    model = models.ForeignKey(LLMModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    model_label = models.CharField(max_length=200, help_text="The model's label when the reply was written.")
    upstream_model = models.CharField(max_length=200, blank=True, help_text="The model the provider said answered.")
    provider = models.CharField(max_length=100, blank=True)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(default=0, **COST)
    estimated = models.BooleanField(default=False, help_text="The provider reported no usage; counted from the text.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "created_at"], name="usage_user_recent")]

    def __str__(self) -> str:
        return f"{self.user} · {self.model_label} · {self.prompt_tokens}+{self.completion_tokens} tokens"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Budget(models.Model):
    """A monthly limit (tokens, cost, or both) for one user, or shared by all members of one group."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="budget"
    )
    group = models.OneToOneField(Group, null=True, blank=True, on_delete=models.CASCADE, related_name="budget")
    monthly_tokens = models.PositiveBigIntegerField(null=True, blank=True, help_text="Prompt + completion tokens.")
    monthly_cost_usd = models.DecimalField(null=True, blank=True, max_digits=12, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, group__isnull=True) | Q(user__isnull=True, group__isnull=False),
                name="budget_user_xor_group",
            ),
            models.CheckConstraint(
                condition=Q(monthly_tokens__isnull=False) | Q(monthly_cost_usd__isnull=False),
                name="budget_has_a_limit",
            ),
        ]

    def __str__(self) -> str:
        return f"group {self.group}" if self.group_id else f"user {self.user}"
