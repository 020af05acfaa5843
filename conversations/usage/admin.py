"""Admin for usage and budgets: usage per user, model and day with a chart and a CSV export, and
budgets with how much of them is spent, nearest the limit first."""

from __future__ import annotations

import csv
from datetime import timedelta

from django.contrib import admin
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from .. import quotas
from ..accounting import month_start
from ..models import Budget, UsageRecord
from .chart import daily_charts

CHART_DAYS = 30
NEAR = 0.8  # a budget this much used counts as near its limit


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "model_label", "prompt_tokens", "completion_tokens", "cost_usd", "estimated")
    list_filter = ("model_label", "provider", "estimated", "created_at")
    search_fields = ("user__username", "model_label", "upstream_model")
    date_hierarchy = "created_at"
    list_select_related = ("user",)
    actions = ["export_daily_csv"]
    change_list_template = "admin/conversations/usagerecord/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # usage is what replies recorded; it is never typed in

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        """Above the list: the chart of the records the current filters select, over the last 30 days."""
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            today = timezone.now().date()
            since = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=CHART_DAYS - 1)
            rows = list(daily(changelist.queryset.filter(created_at__gte=since)))
            response.context_data["charts"] = daily_charts(
                rows, first_day=today - timedelta(days=CHART_DAYS - 1), days=CHART_DAYS
            )
            response.context_data["days"] = CHART_DAYS
        return response

    @admin.action(description="Export usage per user, model and day (CSV)")
    def export_daily_csv(self, request: HttpRequest, queryset: QuerySet[UsageRecord]) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="parley-usage.csv"'
        writer = csv.writer(response)
        writer.writerow(
            ["day", "user", "model", "replies", "prompt_tokens", "completion_tokens", "cost_usd", "estimated"]
        )
        rows = (
            queryset.annotate(day=TruncDate("created_at"))
            .values("day", "user__username", "model_label")
            .annotate(
                replies=Count("id"),
                prompt=Sum("prompt_tokens"),
                completion=Sum("completion_tokens"),
                cost=Sum("cost_usd"),
                estimated=Count("id", filter=Q(estimated=True)),
            )
            .order_by("day", "user__username", "model_label")
        )
        for row in rows:
            writer.writerow([
                row["day"].isoformat(), row["user__username"], row["model_label"], row["replies"],
                row["prompt"], row["completion"], row["cost"], row["estimated"],
            ])  # fmt: skip
        return response


def daily(records: QuerySet[UsageRecord]):
    """Per day and model: the chart's rows."""
    rows = (
        records.annotate(day=TruncDate("created_at"))
        .values("day", "model_label")
        .annotate(prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens"), cost_usd=Sum("cost_usd"))
        .order_by("day", "model_label")
    )
    for row in rows:
        yield {**row, "tokens": row["prompt"] + row["completion"]}


class NearLimitFilter(admin.SimpleListFilter):
    title = "use this month"
    parameter_name = "use"

    def lookups(self, request, model_admin):
        return [("near", f"{NEAR:.0%} or more"), ("over", "used up")]

    def queryset(self, request, queryset):
        if self.value() not in ("near", "over"):
            return queryset
        floor = NEAR if self.value() == "near" else 1.0
        since = month_start(timezone.now())
        ids = [b.id for b in queryset if quotas.BudgetState(b, quotas.spent(b, since)).share >= floor]
        return queryset.filter(id__in=ids)


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ("__str__", "monthly_tokens", "monthly_cost_usd", "tokens_used", "cost_used", "used")
    list_filter = (NearLimitFilter,)
    list_select_related = ("user", "group")
    search_fields = ("user__username", "group__name")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "group")

    def state(self, budget: Budget) -> quotas.BudgetState:
        cache = getattr(self, "_states", None)
        if cache is None or cache[0] != budget.pk:
            self._states = (budget.pk, quotas.BudgetState(budget, quotas.spent(budget, month_start(timezone.now()))))
        return self._states[1]

    @admin.display(description="tokens this month")
    def tokens_used(self, budget: Budget) -> str:
        return f"{self.state(budget).spent.tokens:,}"

    @admin.display(description="cost this month")
    def cost_used(self, budget: Budget) -> str:
        return f"${self.state(budget).spent.cost_usd:,.2f}"

    @admin.display(description="used")
    def used(self, budget: Budget) -> str:
        share = self.state(budget).share
        return f"{share:.0%}" + (" ⚠ near the limit" if NEAR <= share < 1 else " ⛔ used up" if share >= 1 else "")
