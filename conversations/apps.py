from __future__ import annotations

import logging
import os
import sys

from django.apps import AppConfig
from django.conf import settings
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV

logger = logging.getLogger(__name__)


class ConversationsConfig(AppConfig):
    name = "conversations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, revocation  # noqa: F401  (registers system checks and signal handlers)
        from .attachments import services  # noqa: F401  (deletes stored files with their uploads)
        from .search import signals  # noqa: F401  (puts back SQLite's search triggers after migrate)
        from .tokens import services as tokens  # noqa: F401  (announces a token's end to every process)

        if not settings.REDIS_URL and not is_reloader_parent():
            logger.info(
                "REDIS_URL is not set: using the in-memory channel layer, so this process "
                "cannot share streams with other processes."
            )


def is_reloader_parent() -> bool:
    """`runserver` starts a file-watcher process that never serves; only the serving child should say so."""
    reloading = sys.argv[1:2] == ["runserver"] and "--noreload" not in sys.argv
    return reloading and os.environ.get(DJANGO_AUTORELOAD_ENV) != "true"
