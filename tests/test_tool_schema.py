"""A tool's JSON schema comes from its type hints and docstring; what cannot be described is refused."""

from __future__ import annotations

import enum
from typing import Literal

import pytest
from django.core.exceptions import ImproperlyConfigured

from conversations.models import LLMModel
from conversations.tools import registry
from conversations.tools.offered import offered_tools
from conversations.tools.schema import ToolContext, ToolDefinitionError, describe


class Unit(enum.Enum):
    CELSIUS = "c"
    FAHRENHEIT = "f"


def forecast(
    city: str,
    days: int,
    unit: Unit = Unit.CELSIUS,
    detail: Literal["brief", "full"] = "brief",
    hours: list[int] | None = None,
    *,
    context: ToolContext,
    ratio: float = 1.0,
    extra: dict | None = None,
    exact: bool = False,
) -> str:
    """Forecast the weather
    for a city.

    Longer notes that are not part of the description.

    Args:
        city: The city's name.
        days (int): How many days ahead.
        unit: Temperature unit.

    Returns:
        The forecast.
    """
    return ""


def sphinx_style(path: str) -> str:
    """Read a file.

    :param path: Where the file is.
    """
    return path


def test_types_required_arguments_and_descriptions_come_from_the_function():
    spec, context_param = describe(forecast)
    assert spec.name == "forecast" and spec.description == "Forecast the weather for a city."
    assert context_param == "context"
    assert spec.parameters == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "The city's name."},
            "days": {"type": "integer", "description": "How many days ahead."},
            "unit": {"enum": ["c", "f"], "description": "Temperature unit."},
            "detail": {"enum": ["brief", "full"]},
            "hours": {"type": "array", "items": {"type": "integer"}},
            "ratio": {"type": "number"},
            "extra": {"type": "object"},
            "exact": {"type": "boolean"},
        },
        "required": ["city", "days"],
        "additionalProperties": False,
    }


def test_sphinx_param_lines_describe_arguments_too():
    spec, _ = describe(sphinx_style)
    assert spec.parameters["properties"]["path"] == {"type": "string", "description": "Where the file is."}


def no_hint(x):
    """Has a docstring."""


def no_doc(x: int) -> int:
    return x


def splat(*args: int) -> int:
    """Takes anything."""
    return 0


def odd_type(x: complex) -> int:
    """A type JSON has no word for."""
    return 0


@pytest.mark.parametrize(
    ("function", "problem"),
    [
        (no_hint, "needs a type hint"),
        (no_doc, "needs a docstring"),
        (splat, "*args and **kwargs"),
        (odd_type, "has no JSON schema"),
    ],
)
def test_functions_that_cannot_be_described_are_refused_with_the_reason(function, problem):
    with pytest.raises(ToolDefinitionError, match=problem.replace("*", r"\*")):
        describe(function)


@pytest.mark.parametrize(
    ("paths", "problem"),
    [
        (["conversations.tools.examples.nope"], "cannot import"),
        (["tests.test_tool_schema.no_doc"], "cannot be a tool"),
        (["conversations.tools.examples.calculate", "conversations.tools.examples.calculate"], "two tools"),
        (["conversations.tools.examples.calculate:thread"], "the only suffix is ':process'"),
        (["tests.tool_fixtures.held:process"], "is async; only sync functions run in a process"),
    ],
)
def test_a_bad_parley_tools_setting_names_the_problem(paths, problem):
    with pytest.raises(ImproperlyConfigured, match=problem):
        registry.load_tools(tuple(paths))


async def test_tools_are_offered_only_to_models_the_catalog_flags(settings, db):  # db: MCP servers are rows
    settings.PARLEY_TOOLS = ["conversations.tools.examples.calculate"]
    assert list(await offered_tools(LLMModel(name="gpt-4o", tools=True))) == ["calculate"]
    assert await offered_tools(LLMModel(name="llama3.2", tools=False)) == {}


def test_the_system_check_names_a_bad_tool(settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.PARLEY_TOOLS = ["conversations.tools.examples.missing"]
    with pytest.raises(SystemCheckError, match=r"parley.E003.*cannot import 'conversations.tools.examples.missing'"):
        call_command("check")
    settings.PARLEY_TOOLS = ["conversations.tools.examples.calculate"]
    call_command("check")
