"""`python -m tests.faults.seed N`: a user, a session and N conversations in the database of
DATABASE_URL, printed as JSON. The fault tests run against a private PostgreSQL that the test
process's own Django is not connected to, so they seed it through this."""

from __future__ import annotations

import json
import os
import sys
import uuid


def main(count: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    from conversations.models import Conversation

    user = get_user_model().objects.create_user(f"fault-{uuid.uuid4().hex[:8]}")
    client = Client()
    client.force_login(user)
    conversations = [str(Conversation.objects.create(owner=user, title=f"Fault {n}").id) for n in range(count)]
    print(json.dumps({"cookie": client.cookies["sessionid"].value, "conversations": conversations}))


if __name__ == "__main__":
    main(int(sys.argv[1]))
