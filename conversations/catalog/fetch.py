"""Fill the catalog from a provider's own model list (the admin's "Fetch model list" action)."""

from __future__ import annotations

from asgiref.sync import async_to_sync

from ..generation import catalog_provider
from ..llm.listing import list_models
from ..models import LLMModel, Provider


def fetch_models(provider: Provider) -> list[LLMModel]:
    """Ask the provider for its models and add the ones the catalog lacks, disabled until an admin
    enables them (a vendor's list holds embedding, audio and retired models too). Returns the new rows.

    Raises the LLM layer's `LLMError` when the provider cannot be asked."""
    names = async_to_sync(list_models)(catalog_provider(provider))
    known = set(provider.models.values_list("name", flat=True))
    new = [LLMModel(provider=provider, name=name, label=name, enabled=False) for name in dict.fromkeys(names)]
    return LLMModel.objects.bulk_create([model for model in new if model.name not in known])
