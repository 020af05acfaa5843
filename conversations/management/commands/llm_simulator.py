"""`python manage.py llm_simulator`: run the built-in LLM simulator with the same flags as `-m`."""

from __future__ import annotations

import argparse
import logging

from django.conf import settings
from django.core.management.base import BaseCommand

from conversations.llm.config import SimulatorDefaults
from conversations.llm.simulator import cli


class Command(BaseCommand):
    help = "Run the built-in OpenAI-compatible streaming LLM simulator."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        defaults = SimulatorDefaults(
            tps=settings.SIMULATOR_TOKENS_PER_SECOND,
            ttft=settings.SIMULATOR_FIRST_TOKEN_DELAY,
            tokens=settings.SIMULATOR_REPLY_TOKENS,
        )
        cli.add_arguments(parser, defaults)

    def handle(self, *args: object, **options: object) -> None:
        logging.getLogger("conversations.llm").setLevel(logging.INFO)
        cli.run(argparse.Namespace(**options))
