"""The deployment's provider and options, read from Django settings by the generation service."""

from __future__ import annotations

from django.test import override_settings

from conversations.generation import configured_options, configured_provider
from conversations.llm.providers.anthropic import AnthropicProvider
from conversations.llm.providers.simulator import SimulatorProvider


def test_the_simulator_is_the_default_and_labelled_as_such() -> None:
    with override_settings(LLM_PROVIDER="simulator", LLM_MODEL=""):
        assert isinstance(configured_provider(), SimulatorProvider)
        assert configured_options().model == "parley-simulator"


def test_settings_reach_the_provider_and_a_change_builds_a_new_one() -> None:
    with override_settings(LLM_PROVIDER="anthropic", LLM_API_KEY="k", LLM_MODEL="", LLM_MAX_TOKENS=77):
        provider = configured_provider()
        assert isinstance(provider, AnthropicProvider) and provider is configured_provider()
        assert provider.config.api_key == "k"
        assert configured_options().model == AnthropicProvider.default_model
        assert configured_options().max_tokens == 77
    with override_settings(LLM_PROVIDER="anthropic", LLM_API_KEY="other"):
        assert configured_provider() is not provider


def test_a_dotted_path_loads_any_provider_class() -> None:
    with override_settings(LLM_PROVIDER="conversations.llm.providers.ollama.OllamaProvider", LLM_MODEL="qwen"):
        assert configured_provider().name == "ollama"
        assert configured_options().model == "qwen"
