"""Creates N users, one conversation and one logged-in session each, straight in the database,
each user with the storage count a returning user has.

Run with Parley's settings and the benchmark's DATABASE_URL / DJANGO_SECRET_KEY:
    python -m bench.prepare --n 100 --tag run1 --out sessions.json
Writes [{"conversation": uuid, "session": key}, ...]. One user per conversation keeps
PARLEY_MAX_GENERATIONS_PER_USER out of the way; `--one-owner` gives every conversation to one
user with one session instead (the OpenAI-compatible API's and team accounts' workload), and the
harness raises that user's caps.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import timedelta


def prepare(n: int, tag: str, one_owner: bool = False) -> list[dict[str, str]]:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from conversations.models import Conversation

    user_model = get_user_model()
    unusable = make_password(None)
    users = user_model.objects.bulk_create(
        [user_model(username=f"bench-{tag}-{i}", password=unusable) for i in range(1 if one_owner else n)],
        batch_size=1000,
    )
    owners = users * n if one_owner else users
    conversations = Conversation.objects.bulk_create(
        [Conversation(owner=user, title=f"bench {i}") for i, user in enumerate(owners)], batch_size=1000
    )
    store = SessionStore()
    expires = timezone.now() + timedelta(days=1)
    sessions = []
    for user in users:
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
        sessions.append(
            Session(session_key=get_random_string(32), session_data=store.encode(data), expire_date=expires)
        )
    Session.objects.bulk_create(sessions, batch_size=1000)
    _count_storage(users)
    sessions *= n if one_owner else 1
    return [{"conversation": str(c.id), "session": s.session_key} for c, s in zip(conversations, sessions, strict=True)]


def _count_storage(users) -> None:
    """Give each user the storage count a user who has chatted before has (they start empty here).

    A user's first send measures what they stored before their count existed (storage_limits.py),
    a cost paid once per user, not per reply. Trees from before that count have no such model."""
    try:
        from conversations.models import StorageUsage
    except ImportError:
        return
    StorageUsage.objects.bulk_create([StorageUsage(user=user, stored_bytes=0) for user in users], batch_size=1000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--tag", required=True, help="makes user names unique within one database")
    parser.add_argument("--out", required=True)
    parser.add_argument("--one-owner", action="store_true", help="one user owns all N conversations")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    import django

    django.setup()
    with open(args.out, "w") as out:
        json.dump(prepare(args.n, args.tag, args.one_owner), out)


if __name__ == "__main__":
    main()
