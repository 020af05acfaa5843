"""Choosing a provider by name, with the configuration handed in: no Django involved."""

from __future__ import annotations

import pytest

from conversations.llm.config import ProviderConfig
from conversations.llm.providers.anthropic import AnthropicProvider
from conversations.llm.providers.simulator import SimulatorProvider
from conversations.llm.registry import get_provider, provider_class


def test_short_names_and_dotted_paths_name_provider_classes() -> None:
    assert provider_class("simulator") is SimulatorProvider
    assert provider_class("conversations.llm.providers.anthropic.AnthropicProvider") is AnthropicProvider


def test_a_provider_is_built_once_per_distinct_configuration() -> None:
    provider = get_provider("anthropic", ProviderConfig(api_key="k"))
    assert isinstance(provider, AnthropicProvider) and provider.config.api_key == "k"
    assert get_provider("anthropic", ProviderConfig(api_key="k")) is provider
    assert get_provider("anthropic", ProviderConfig(api_key="other")) is not provider


@pytest.mark.parametrize("name", ["nope", "conversations.llm.providers.nope.Provider", "os.NoSuchClass"])
def test_an_unknown_provider_fails_loudly(name: str) -> None:
    with pytest.raises(ImportError, match="No LLM provider"):
        provider_class(name)
