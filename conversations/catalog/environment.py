"""The catalog a deployment gets with no configuration: the LLM_* settings, plus the simulator in development.

So `scripts/serve` works as before: the first time the catalog is needed and holds no provider at
all, one provider and one default model are created from LLM_PROVIDER, LLM_BASE_URL, LLM_MODEL
(the key stays in LLM_API_KEY, named by `api_key_env`, never copied into the database).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction

from ..llm import registry
from ..models import LLMModel, Provider

logger = logging.getLogger(__name__)

ENVIRONMENT_PROVIDER = "environment"
SIMULATOR_PROVIDER = "simulator"


def ensure_catalog() -> bool:
    """Create the environment's provider and model when there is no provider yet; True if it did."""
    if Provider.objects.exists():
        return False
    try:
        with transaction.atomic():
            _create_from_settings()
    except IntegrityError:  # another process filled it first
        return False
    logger.info("The model catalog was empty; created it from the LLM_* settings.")
    return True


def _create_from_settings() -> None:
    kind = settings.LLM_PROVIDER
    if kind not in Provider.Kind.values:
        logger.warning("LLM_PROVIDER=%r is not a provider kind; the catalog gets only the simulator.", kind)
        kind = ""
    simulated = kind in ("", Provider.Kind.SIMULATOR)
    if not simulated:
        provider = Provider.objects.create(
            name=ENVIRONMENT_PROVIDER, kind=kind, base_url=settings.LLM_BASE_URL, api_key_env="LLM_API_KEY"
        )
        name = settings.LLM_MODEL or registry.provider_class(kind).default_model
        LLMModel.objects.create(provider=provider, name=name, label=name, is_default=True)
    if simulated or settings.DEBUG:
        simulator = Provider.objects.create(
            name=SIMULATOR_PROVIDER, kind=Provider.Kind.SIMULATOR, base_url=settings.LLM_BASE_URL if simulated else ""
        )
        default_name = registry.provider_class(Provider.Kind.SIMULATOR).default_model
        name = (settings.LLM_MODEL if simulated else "") or default_name
        LLMModel.objects.create(  # the simulator reads images and calls tools on request (`!sim`)
            provider=simulator,
            name=name,
            label="Simulator",
            position=1,
            is_default=simulated,
            vision=True,
            tools=True,
        )
