"""The user's own usage page: tokens and cost per day by model over the last 30 days, as a chart and a table."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from .. import quotas, selectors
from ..models import UsageRecord
from .chart import daily_charts

DAYS = 30


@login_required
def usage(request: HttpRequest) -> HttpResponse:
    today = timezone.now().date()
    first_day = today - timedelta(days=DAYS - 1)
    since = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=DAYS - 1)
    rows = selectors.usage_by_day(records=UsageRecord.objects.filter(user=request.user), since=since)
    for row in rows:
        row["tokens"] = row["prompt_tokens"] + row["completion_tokens"]
    tokens, cost = daily_charts(rows, first_day=first_day, days=DAYS)
    context = {
        "rows": list(reversed(rows)),
        "charts": [tokens, cost],
        "days": DAYS,
        "totals": {
            "tokens": sum(row["tokens"] for row in rows),
            "cost_usd": sum((row["cost_usd"] for row in rows), 0),
        },
        "budgets": quotas.budget_summaries(user=request.user, now=timezone.now()),
    }
    return render(request, "conversations/usage.html", context)
