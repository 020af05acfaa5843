"""`manage.py load_models FILE`: upsert providers and models from a TOML file (format in docs/llm.md)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from conversations.catalog.loader import ModelsFileError, load_models_file


class Command(BaseCommand):
    help = "Create or update providers and models from a TOML file; running it twice changes nothing."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="TOML file with [[providers]] and [[models]] tables")

    def handle(self, *args, file: str, **options) -> None:
        try:
            report = load_models_file(file)
        except ModelsFileError as error:
            raise CommandError(str(error)) from None
        for label in report.created:
            self.stdout.write(f"created {label}")
        for label in report.updated:
            self.stdout.write(f"updated {label}")
        self.stdout.write(self.style.SUCCESS(f"{file}: {report}"))
