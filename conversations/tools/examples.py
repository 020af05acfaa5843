"""Example tools, off until listed in PARLEY_TOOLS (docs/tools.md):

    PARLEY_TOOLS=conversations.tools.examples.current_time,conversations.tools.examples.calculate

`find_conversations` shows a sync tool using the ORM as any Django view would, scoped to the user
the reply is for through its `ToolContext`.
"""

from __future__ import annotations

import ast
import operator
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..models import Conversation
from .schema import ToolContext

MAX_EXPONENT = 1000  # 2 ** 10**9 would hold a thread for minutes
MAX_EXPRESSION = 500

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def current_time(timezone: str = "UTC") -> str:
    """The current date and time in a time zone.

    Args:
        timezone: An IANA time zone name, such as Europe/Lisbon or America/New_York.
    """
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {timezone!r}; use an IANA name such as Europe/Lisbon") from None
    return datetime.now(zone).isoformat(timespec="seconds")


def calculate(expression: str) -> float | int:
    """Evaluate an arithmetic expression exactly, e.g. (3 + 4) * 2 ** 10 / 7.

    Args:
        expression: Numbers with + - * / // % ** and parentheses.
    """
    if len(expression) > MAX_EXPRESSION:
        raise ValueError(f"the expression is longer than {MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        raise ValueError(f"not an arithmetic expression: {expression!r}") from None
    return _evaluate(tree.body)


def _evaluate(node: ast.AST) -> float | int:
    """Walk the parsed expression; only numbers and arithmetic operators are allowed, never names or calls."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ValueError(f"exponents above {MAX_EXPONENT} are refused")
        return _BINARY[type(node.op)](left, right)
    raise ValueError(f"{type(node).__name__} is not allowed; only numbers and + - * / // % ** ( )")


def find_conversations(query: str, context: ToolContext, limit: int = 5) -> list[dict[str, str]]:
    """Find the user's own conversations whose title contains some text.

    Args:
        query: Text to look for in conversation titles.
        limit: How many conversations to return at most.
    """

    found = Conversation.objects.filter(owner_id=context.user_id, title__icontains=query).order_by("-updated_at")
    return [{"id": str(c.id), "title": c.title} for c in found[: max(1, min(limit, 20))]]
