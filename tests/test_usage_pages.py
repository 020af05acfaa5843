"""The usage page (own usage only, chart and table) and the admin's usage, CSV export and budgets."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from conversations.models import Budget, UsageRecord

pytestmark = pytest.mark.db


def record(user, label: str, prompt: int, completion: int, cost: str, days_ago: int = 0) -> UsageRecord:
    return UsageRecord.objects.create(
        user=user,
        model_label=label,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost_usd=Decimal(cost),
        created_at=timezone.now() - timedelta(days=days_ago),
    )


@pytest.fixture
def admin_client(db, client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def test_the_usage_page_charts_only_the_users_own_last_30_days(alice, bob, alice_client):
    record(alice, "Model A", 100, 50, "0.0015")
    record(alice, "Model B", 10, 5, "0.0001", days_ago=3)
    record(alice, "Model A", 999, 999, "9", days_ago=40)  # too old
    record(bob, "Bob's model", 7, 7, "1")
    page = alice_client.get("/usage/").content.decode()
    assert "Bob&#x27;s model" not in page and "Bob's model" not in page
    assert page.count("<rect x=") == 4  # two bars on each of the two charts
    assert "Model A, 150" in page and "Model B, 15" in page  # bar tooltips: tokens per day and model
    assert "<strong>165</strong> tokens" in page and "$0.0016" in page
    assert "1998" not in page


def test_the_usage_page_needs_a_login(client):
    assert client.get("/usage/").status_code == 302


def test_the_usage_page_shows_a_budget_and_when_it_resets(alice, alice_client):
    Budget.objects.create(user=alice, monthly_tokens=200)
    record(alice, "Model A", 100, 50, "0")
    page = alice_client.get("/usage/").content.decode()
    assert "75% used" in page and "resets" in page


def test_the_admin_exports_usage_per_user_model_and_day_as_csv(admin_client, alice, bob):
    first = record(alice, "Model A", 100, 50, "0.0015")
    record(alice, "Model A", 1, 2, "0.0001")
    record(bob, "Model B", 3, 4, "0.5", days_ago=1)
    ids = [str(r.id) for r in UsageRecord.objects.all()]
    response = admin_client.post(
        "/admin/conversations/usagerecord/", {"action": "export_daily_csv", "_selected_action": ids}
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    today, yesterday = first.created_at.date(), (first.created_at - timedelta(days=1)).date()
    assert rows[0][:7] == ["day", "user", "model", "replies", "prompt_tokens", "completion_tokens", "cost_usd"]
    assert [row[:6] for row in rows[1:]] == [
        [yesterday.isoformat(), "bob", "Model B", "1", "3", "4"],
        [today.isoformat(), "alice", "Model A", "2", "101", "52"],
    ]
    assert Decimal(rows[2][6]) == Decimal("0.0016")


def test_the_admin_usage_list_has_a_chart(admin_client, alice):
    record(alice, "Model A", 100, 50, "0.0015")
    page = admin_client.get("/admin/conversations/usagerecord/").content.decode()
    assert "Tokens per day" in page and "<rect x=" in page


def test_the_admin_shows_who_is_near_their_limit(admin_client, alice, bob):
    Budget.objects.create(user=alice, monthly_tokens=100)
    Budget.objects.create(user=bob, monthly_tokens=100)
    record(alice, "Model A", 50, 35, "0")  # 85%
    record(bob, "Model A", 5, 5, "0")  # 10%
    page = admin_client.get("/admin/conversations/budget/?use=near").content.decode()
    assert "user alice" in page and "user bob" not in page and "85% ⚠ near the limit" in page
