"""`manage.py rotate_api_keys`: re-encrypt every stored API key with the first PARLEY_ENCRYPTION_KEY."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from conversations import crypto
from conversations.models import Provider


class Command(BaseCommand):
    help = "Re-encrypt stored provider API keys with the newest key; then the old key can be removed."

    def handle(self, *args, **options) -> None:
        rotated = 0
        with transaction.atomic():
            for provider in Provider.objects.select_for_update().exclude(api_key_encrypted=""):
                try:
                    provider.api_key_encrypted = crypto.rotate(provider.api_key_encrypted)
                except crypto.SecretUnreadable as error:
                    raise CommandError(f"provider {provider.name}: {error} Nothing was changed.") from None
                provider.save(update_fields=["api_key_encrypted"])
                rotated += 1
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {rotated} API key(s) with the first key."))
