"""Mark replies orphaned by dead processes as interrupted; for cron or after a crash."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from conversations.replies import replies_interrupt_orphans


class Command(BaseCommand):
    help = "Mark streaming replies whose process stopped heartbeating as interrupted (text kept)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--stale-after",
            type=float,
            default=settings.PARLEY_STALE_AFTER,
            help="Seconds without a heartbeat after which a reply counts as orphaned.",
        )

    def handle(self, *args, stale_after: float, **options) -> None:
        interrupted = replies_interrupt_orphans(stale_before=timezone.now() - timedelta(seconds=stale_after))
        self.stdout.write(f"Marked {len(interrupted)} orphaned replies as interrupted.")
