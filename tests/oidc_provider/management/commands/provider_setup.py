"""Create the provider's client application (Parley) and, from a JSON list, its users and their groups."""

from __future__ import annotations

import json

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from oauth2_provider.models import Application


class Command(BaseCommand):
    def add_arguments(self, parser) -> None:
        parser.add_argument("--client-id", required=True)
        parser.add_argument("--client-secret", required=True)
        parser.add_argument("--redirect-uri", required=True)
        parser.add_argument("--post-logout-redirect-uri", default="")
        parser.add_argument("--users", required=True, help='[{"username", "password", "email", "groups": [...]}]')

    def handle(self, *args, client_id, client_secret, redirect_uri, post_logout_redirect_uri, users, **options) -> None:
        Application.objects.update_or_create(
            client_id=client_id,
            defaults={
                "client_secret": client_secret,
                "client_type": Application.CLIENT_CONFIDENTIAL,
                "authorization_grant_type": Application.GRANT_AUTHORIZATION_CODE,
                "redirect_uris": redirect_uri,
                "post_logout_redirect_uris": post_logout_redirect_uri,
                "algorithm": Application.RS256_ALGORITHM,
                "skip_authorization": True,
                "name": "Parley",
            },
        )
        for person in json.loads(users):
            user, _ = User.objects.update_or_create(username=person["username"], defaults={"email": person["email"]})
            user.set_password(person["password"])
            user.save()
            user.groups.set([Group.objects.get_or_create(name=name)[0] for name in person.get("groups", [])])
