"""Delete uploads that no message took within PARLEY_UPLOAD_TTL, files included; for cron."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from conversations.attachments.services import uploads_expire


class Command(BaseCommand):
    help = "Delete uploads no message used within PARLEY_UPLOAD_TTL seconds, with their stored files."

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"Deleted {uploads_expire()} unused uploads.")
