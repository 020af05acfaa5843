"""What a reply asks the LLM layer for: its provider, built from the catalog and Django settings.

`llm/` never reads settings or the database; this module hands it a ProviderConfig.
"""

from __future__ import annotations

from django.conf import settings

from .. import replies
from ..llm import registry
from ..llm.base import Options, Provider
from ..llm.config import HTTPLimits, HTTPNetwork, ProviderConfig, SimulatorDefaults
from ..models import Provider as CatalogProvider

ReplyStart = replies.ReplyStart


def reply_options(started: ReplyStart) -> Options:
    """What one reply asks its model for: the catalog model's upstream name, the conversation's
    temperature (else LLM_TEMPERATURE) and LLM_MAX_TOKENS."""
    temperature = started.reply.conversation.temperature
    return Options(
        model=started.model.name,
        temperature=settings.LLM_TEMPERATURE if temperature is None else temperature,
        max_tokens=settings.LLM_MAX_TOKENS,
    )


def catalog_provider(provider: CatalogProvider) -> Provider:
    """The LLM layer's provider for a catalog row, built once per distinct configuration."""
    return registry.get_provider(provider.kind, provider_config(provider))


def provider_config(provider: CatalogProvider | None = None) -> ProviderConfig:
    """The LLM layer's configuration: where and how to reach the catalog provider (none: the LLM_*
    settings), with the deployment's HTTP settings. `llm/` never reads Django settings itself."""
    return ProviderConfig(
        base_url=settings.LLM_BASE_URL if provider is None else provider.base_url,
        api_key=settings.LLM_API_KEY if provider is None else provider.api_key(),
        headers=() if provider is None else tuple(sorted((provider.extra_headers or {}).items())),
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
