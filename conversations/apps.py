from __future__ import annotations

import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger(__name__)


class ConversationsConfig(AppConfig):
    name = "conversations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, revocation  # noqa: F401  (registers system checks and signal handlers)

        if not settings.REDIS_URL:
            logger.info(
                "REDIS_URL is not set: using the in-memory channel layer, so this process "
                "cannot share streams with other processes."
            )
