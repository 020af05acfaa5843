"""Usage and cost arithmetic, without a server: reported numbers kept, missing ones estimated, exact decimals."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from conversations.accounting import cost_usd, estimate_tokens, month_start, next_month_start, reply_usage


def test_reported_numbers_are_kept_exactly_and_priced_per_million():
    usage = reply_usage(
        reported_prompt=1_234,
        reported_completion=567,
        prompt_texts=["ignored"],
        completion_text="ignored",
        input_per_mtok=Decimal("0.10"),
        output_per_mtok=Decimal("0.40"),
    )
    assert (usage.prompt_tokens, usage.completion_tokens, usage.estimated) == (1_234, 567, False)
    assert usage.cost_usd == Decimal("0.0003502")  # 1234 * 0.10e-6 + 567 * 0.40e-6, no float on the way


def test_a_missing_number_is_estimated_at_four_characters_a_token_and_marked():
    usage = reply_usage(
        reported_prompt=None,
        reported_completion=None,
        prompt_texts=["12345678", "123"],
        completion_text="x" * 9,
        input_per_mtok=Decimal(3),
        output_per_mtok=Decimal(15),
    )
    assert (usage.prompt_tokens, usage.completion_tokens, usage.estimated) == (2 + 1, 3, True)
    assert usage.cost_usd == Decimal("0.000054")


def test_costs_are_rounded_once_to_the_stored_precision():
    assert cost_usd(1, 0, Decimal("0.000001"), Decimal(0)) == Decimal("0E-8")
    assert cost_usd(3, 7, Decimal("2.5"), Decimal("10")) == Decimal("0.00007750")
    assert estimate_tokens("") == 0 and estimate_tokens("abcde") == 2


def test_budgets_reset_at_the_first_instant_of_the_next_month():
    assert month_start(datetime(2026, 11, 28, 10, 5, tzinfo=UTC)) == datetime(2026, 11, 1, tzinfo=UTC)
    assert next_month_start(datetime(2026, 11, 30, 23, 59, tzinfo=UTC)) == datetime(2026, 12, 1, tzinfo=UTC)
    assert next_month_start(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)
