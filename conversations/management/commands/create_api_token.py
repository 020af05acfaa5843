"""Issue a personal API token from the command line, for scripts and operators."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from conversations.tokens.services import token_create


class Command(BaseCommand):
    help = "Create a personal API token for USERNAME and print it (it cannot be shown again)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="Command-line token", help="A name to recognise the token by.")
        parser.add_argument("--expires", type=int, metavar="DAYS", help="Days until it expires (default: never).")

    def handle(self, *args, username: str, name: str, expires: int | None, **options) -> None:
        if expires is not None and expires < 1:
            raise CommandError("--expires must be a whole number of days, at least 1.")
        user_model = get_user_model()
        try:
            owner = user_model.objects.get(**{user_model.USERNAME_FIELD: username})
        except user_model.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        _, secret = token_create(owner=owner, name=name, expires_in_days=expires)
        self.stdout.write(secret)
