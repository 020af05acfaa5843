"""A reply's usage and cost: tokens as the provider reported them, else an estimate, priced at the moment.

Pure functions, so the arithmetic is tested without a server. Estimates count about four characters
per token (OpenAI's rule of thumb for English); a reply whose provider sent no usage (a stopped
stream, a server that ignores `stream_options.include_usage`) is stored with `estimated` set.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

CHARS_PER_TOKEN = 4
COST_PLACES = Decimal("0.00000001")  # the stored precision: 1e-8 USD
PER_MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class ReplyUsage:
    prompt_tokens: int
    completion_tokens: int
    cost_usd: Decimal
    estimated: bool


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def reply_usage(
    *,
    reported_prompt: int | None,
    reported_completion: int | None,
    prompt_texts: Iterable[str],
    completion_text: str,
    input_per_mtok: Decimal,
    output_per_mtok: Decimal,
) -> ReplyUsage:
    """The reply's tokens (each reported number kept exactly, a missing one estimated) and their cost."""
    estimated = reported_prompt is None or reported_completion is None
    prompt = reported_prompt if reported_prompt is not None else sum(estimate_tokens(t) for t in prompt_texts)
    completion = reported_completion if reported_completion is not None else estimate_tokens(completion_text)
    return ReplyUsage(prompt, completion, cost_usd(prompt, completion, input_per_mtok, output_per_mtok), estimated)


def cost_usd(prompt_tokens: int, completion_tokens: int, input_per_mtok: Decimal, output_per_mtok: Decimal) -> Decimal:
    """Exact decimal arithmetic, rounded once to the stored precision."""
    total = (input_per_mtok * prompt_tokens + output_per_mtok * completion_tokens) / PER_MILLION
    return total.quantize(COST_PLACES)


def month_start(moment: datetime) -> datetime:
    """The first instant of `moment`'s month, in its own time zone (UTC for Parley)."""
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(moment: datetime) -> datetime:
    start = month_start(moment)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
