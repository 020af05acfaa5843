"""Choose and build a provider by name: a short name or a dotted path to a class taking a `ProviderConfig`.

The caller hands in the configuration (the app builds it from Django settings in
`conversations/generation/config.py`), so this layer runs without Django. Providers are cached per
distinct configuration: tests that change settings get a fresh provider, production builds one.
"""

from __future__ import annotations

import importlib
from functools import lru_cache

from .base import Provider
from .config import ProviderConfig

PROVIDERS = {
    "simulator": "conversations.llm.providers.simulator.SimulatorProvider",
    "openai": "conversations.llm.providers.openai.OpenAIProvider",
    "anthropic": "conversations.llm.providers.anthropic.AnthropicProvider",
    "ollama": "conversations.llm.providers.ollama.OllamaProvider",
}


def provider_class(name: str) -> type:
    """The class a short name or dotted path `package.module.Class` names."""
    module_path, _, class_name = PROVIDERS.get(name, name).rpartition(".")
    try:
        return getattr(importlib.import_module(module_path), class_name)
    except (ImportError, AttributeError, ValueError) as error:
        raise ImportError(
            f"No LLM provider {name!r}: expected one of {', '.join(PROVIDERS)} or a dotted path"
        ) from error


@lru_cache(maxsize=64)
def get_provider(name: str, config: ProviderConfig) -> Provider:
    """The provider `name`, built once per distinct configuration."""
    provider: Provider = provider_class(name)(config)
    return provider
