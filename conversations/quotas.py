"""Monthly budgets: how much of one a user (or a group) has spent, and whether a new reply may start.

`over_budget` runs inside the reply's start transaction (replies/start.py), after the owner's row is
locked, so two sends of one user cannot both slip past a budget; a group's budget row is locked too,
so members of one group are counted one send at a time. A reply already running is never stopped
by its own cost: only the next send is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce

from .accounting import month_start, next_month_start
from .models import Budget, UsageRecord


@dataclass(frozen=True, slots=True)
class Spent:
    tokens: int
    cost_usd: Decimal


@dataclass(frozen=True, slots=True)
class BudgetState:
    budget: Budget
    spent: Spent

    @property
    def share(self) -> float:
        """The larger of the used shares of its limits: 1.0 means used up."""
        shares = []
        if self.budget.monthly_tokens is not None:
            shares.append(self.spent.tokens / self.budget.monthly_tokens if self.budget.monthly_tokens else 1.0)
        if self.budget.monthly_cost_usd is not None:
            limit = self.budget.monthly_cost_usd
            shares.append(float(self.spent.cost_usd / limit) if limit else 1.0)
        return max(shares)


def spent(budget: Budget, since: datetime) -> Spent:
    """Usage counted against a budget since `since`: the user's own, or all the group's members'."""
    records = UsageRecord.objects.filter(created_at__gte=since)
    records = records.filter(user=budget.user_id) if budget.user_id else records.filter(user__groups=budget.group_id)
    totals = records.aggregate(
        prompt=Coalesce(Sum("prompt_tokens"), 0),
        completion=Coalesce(Sum("completion_tokens"), 0),
        cost=Coalesce(Sum("cost_usd"), Decimal(0)),
    )
    return Spent(totals["prompt"] + totals["completion"], Decimal(totals["cost"]))


def budget_states(*, user: AbstractBaseUser, now: datetime) -> list[BudgetState]:
    """Every budget that applies to this user (their own, their groups'), with this month's spending."""
    applying = Budget.objects.filter(Q(user=user) | Q(group__in=user.groups.values("id"))).select_related("group")
    since = month_start(now)
    return [BudgetState(budget, spent(budget, since)) for budget in applying.select_for_update(of=("self",))]


def budget_summaries(*, user: AbstractBaseUser, now: datetime) -> list[dict[str, object]]:
    """The budgets that apply to this user, for their usage page (read only: nothing is locked)."""
    applying = Budget.objects.filter(Q(user=user) | Q(group__in=user.groups.values("id"))).select_related("group")
    since = month_start(now)
    states = [BudgetState(budget, spent(budget, since)) for budget in applying]
    return [{"state": state, "percent": round(state.share * 100), "resets": next_month_start(now)} for state in states]


def budgets_apply(*, user_ids: set) -> bool:
    """Whether any budget applies to any of these users: a batch of starts checks each owner's
    budgets (locking them) only when some exist."""
    return Budget.objects.filter(Q(user__in=user_ids) | Q(group__user__in=user_ids)).exists()


def over_budget(*, user: AbstractBaseUser, now: datetime) -> str | None:
    """Why this user may not start a reply now (a used-up budget, and when it resets), or None."""
    for state in budget_states(user=user, now=now):
        if state.share >= 1.0:
            return refusal(state, next_month_start(now))
    return None


def refusal(state: BudgetState, resets: datetime) -> str:
    budget = state.budget
    whose = f"The monthly budget of your group {budget.group.name}" if budget.group_id else "Your monthly budget"
    limits = []
    if budget.monthly_tokens is not None:
        limits.append(f"{budget.monthly_tokens:,} tokens")
    if budget.monthly_cost_usd is not None:
        limits.append(f"${budget.monthly_cost_usd:,.2f}")
    used = f"{state.spent.tokens:,} tokens, ${state.spent.cost_usd:,.2f}"
    when = f"{resets:%d %B %Y} at 00:00 UTC".lstrip("0")
    return f"{whose} ({' / '.join(limits)}) is used up ({used} this month); it resets on {when}."
