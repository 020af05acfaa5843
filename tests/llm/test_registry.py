"""Provider choice and options from Django settings."""

from __future__ import annotations

import pytest
from django.test import override_settings

from conversations.llm.providers.anthropic import AnthropicProvider
from conversations.llm.providers.simulator import SimulatorProvider
from conversations.llm.registry import default_options, get_provider


def test_simulator_is_the_default_and_labelled_as_such() -> None:
    with override_settings(LLM_PROVIDER="simulator", LLM_MODEL=""):
        assert isinstance(get_provider(), SimulatorProvider)
        assert default_options().model == "parley-simulator"


def test_provider_is_cached_per_settings() -> None:
    with override_settings(LLM_PROVIDER="anthropic", LLM_API_KEY="k", LLM_MODEL="", LLM_MAX_TOKENS=77):
        provider = get_provider()
        assert isinstance(provider, AnthropicProvider) and provider is get_provider()
        assert provider.config.api_key == "k"
        assert default_options().model == AnthropicProvider.default_model
        assert default_options().max_tokens == 77
    with override_settings(LLM_PROVIDER="anthropic", LLM_API_KEY="other"):
        assert get_provider() is not provider


def test_dotted_path_loads_any_provider_class() -> None:
    with override_settings(LLM_PROVIDER="conversations.llm.providers.ollama.OllamaProvider", LLM_MODEL="qwen"):
        assert get_provider().name == "ollama"
        assert default_options().model == "qwen"


def test_unknown_provider_fails_loudly() -> None:
    with override_settings(LLM_PROVIDER="nope"), pytest.raises(ImportError):
        get_provider()
