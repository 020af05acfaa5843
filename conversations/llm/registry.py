"""Choose and build the configured provider: the only module of `llm/` that reads Django settings.

`LLM_PROVIDER` is a short name or a dotted path to a class taking a `ProviderConfig`, as
django-debug-toolbar loads its panels. Providers are cached per distinct settings, so tests that
override settings get a fresh provider while production builds exactly one.
"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string

from .base import Options, Provider
from .config import HTTPLimits, HTTPNetwork, ProviderConfig, SimulatorDefaults

PROVIDERS = {
    "simulator": "conversations.llm.providers.simulator.SimulatorProvider",
    "openai": "conversations.llm.providers.openai.OpenAIProvider",
    "anthropic": "conversations.llm.providers.anthropic.AnthropicProvider",
    "ollama": "conversations.llm.providers.ollama.OllamaProvider",
}


def get_provider() -> Provider:
    """The provider named by `LLM_PROVIDER`, built once per distinct configuration."""
    return _build(settings.LLM_PROVIDER, provider_config())


def default_options() -> Options:
    """Model and sampling options from settings; an empty `LLM_MODEL` means the provider's default."""
    provider_class = import_string(PROVIDERS.get(settings.LLM_PROVIDER, settings.LLM_PROVIDER))
    return Options(
        model=settings.LLM_MODEL or getattr(provider_class, "default_model", ""),
        temperature=settings.LLM_TEMPERATURE,
        max_tokens=settings.LLM_MAX_TOKENS,
    )


def provider_config() -> ProviderConfig:
    return ProviderConfig(
        base_url=settings.LLM_BASE_URL,
        api_key=settings.LLM_API_KEY,
        limits=HTTPLimits(
            connect_timeout=settings.LLM_CONNECT_TIMEOUT,
            first_byte_timeout=settings.LLM_FIRST_BYTE_TIMEOUT,
            idle_timeout=settings.LLM_IDLE_TIMEOUT,
            max_connections=settings.LLM_MAX_CONNECTIONS,
            max_keepalive=settings.LLM_MAX_KEEPALIVE,
        ),
        network=HTTPNetwork(
            proxy=settings.LLM_PROXY,
            ca_bundle=settings.LLM_CA_BUNDLE,
            client_cert=settings.LLM_CLIENT_CERT,
            client_key=settings.LLM_CLIENT_KEY,
            http2=settings.LLM_HTTP2,
            fast=settings.LLM_FAST_TRANSPORT,
        ),
        max_attempts=settings.LLM_MAX_ATTEMPTS,
        simulator=SimulatorDefaults(
            tps=settings.SIMULATOR_TOKENS_PER_SECOND,
            ttft=settings.SIMULATOR_FIRST_TOKEN_DELAY,
            tokens=settings.SIMULATOR_REPLY_TOKENS,
        ),
    )


@lru_cache(maxsize=8)
def _build(name: str, config: ProviderConfig) -> Provider:
    provider_class = import_string(PROVIDERS.get(name, name))
    provider: Provider = provider_class(config)
    return provider
