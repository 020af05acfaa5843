"""With no catalog configured, the LLM_* settings define the one provider and model, as before issue 15."""

from __future__ import annotations

import pytest

from conversations import selectors
from conversations.catalog.environment import ensure_catalog
from conversations.generation import catalog_provider, provider_config
from conversations.llm.providers.anthropic import AnthropicProvider
from conversations.llm.providers.simulator import SimulatorProvider
from conversations.models import LLMModel, Provider

pytestmark = pytest.mark.db


def catalog() -> list[tuple[str, str, str, bool]]:
    models = LLMModel.objects.select_related("provider")
    return [(m.provider.name, m.provider.kind, m.name, m.is_default) for m in models]


def test_the_simulator_is_the_default_catalog_of_a_fresh_install(db, settings, alice) -> None:
    settings.LLM_PROVIDER, settings.LLM_MODEL = "simulator", ""
    assert [model.name for model in selectors.models_for_user(user=alice)] == ["parley-simulator"]
    assert catalog() == [("simulator", "simulator", "parley-simulator", True)]
    assert isinstance(catalog_provider(Provider.objects.get()), SimulatorProvider)


def test_llm_settings_define_the_default_model_and_development_also_lists_the_simulator(db, settings) -> None:
    settings.DEBUG = True
    settings.LLM_PROVIDER, settings.LLM_MODEL, settings.LLM_BASE_URL = "anthropic", "", "http://127.0.0.1:9/"
    settings.PROVIDER_KEY_ENVIRONMENT = {"LLM_API_KEY": "k"}
    assert ensure_catalog()
    assert catalog() == [
        ("environment", "anthropic", AnthropicProvider.default_model, True),
        ("simulator", "simulator", "parley-simulator", False),
    ]
    provider = Provider.objects.get(name="environment")
    assert provider.api_key_encrypted == "" and provider.api_key_env == "LLM_API_KEY"  # the key stays in the env
    built = catalog_provider(provider)
    assert isinstance(built, AnthropicProvider) and built is catalog_provider(provider)
    assert (built.config.api_key, built.config.base_url) == ("k", "http://127.0.0.1:9/")
    settings.PROVIDER_KEY_ENVIRONMENT = {"LLM_API_KEY": "other"}
    assert catalog_provider(provider) is not built  # a changed key builds a new provider


def test_production_lists_only_the_configured_model_and_a_filled_catalog_is_left_alone(db, settings) -> None:
    settings.DEBUG = False
    settings.LLM_PROVIDER, settings.LLM_MODEL = "ollama", "qwen3"
    assert ensure_catalog()
    assert catalog() == [("environment", "ollama", "qwen3", True)]
    settings.LLM_MODEL = "another"
    assert not ensure_catalog()
    assert catalog() == [("environment", "ollama", "qwen3", True)]


def test_the_deployment_http_settings_reach_every_catalog_provider(db, settings) -> None:
    settings.LLM_MAX_ATTEMPTS, settings.LLM_IDLE_TIMEOUT = 1, 7.0
    provider = Provider.objects.create(name="p", kind="openai", extra_headers={"OpenAI-Organization": "org-1"})
    config = provider_config(provider)
    assert (config.max_attempts, config.limits.idle_timeout) == (1, 7.0)
    assert config.headers == (("OpenAI-Organization", "org-1"),)
