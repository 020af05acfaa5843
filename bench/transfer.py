"""Import and export at size: python -m bench.transfer [--database sqlite|postgres] [--conversations N] [--turns T].

Builds a ChatGPT-shaped `conversations.json` (each conversation T question/answer turns, one
regenerated answer and one hidden tool node), then times, in one throwaway database:
reading the file (the pure part), importing it (Parley's bulk path), a baseline import that
saves each message with its own INSERT (what bulk_create replaces), and "export all".
Prints the numbers; nothing is asserted (docs/performance.md records a run).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from .database import throwaway


def chatgpt_file(conversations: int, turns: int) -> bytes:
    """A list of ChatGPT conversations, each a chain of turns with one branch and one hidden node."""

    def node(key, parent, role, text, when, **message):
        content = {"content_type": "text", "parts": [text]}
        body = {"id": key, "author": {"role": role}, "content": content, "create_time": when, **message}
        return {"id": key, "parent": parent, "children": [], "message": body}

    documents = []
    for number in range(conversations):
        mapping = {"root": {"id": "root", "parent": None, "children": [], "message": None}}
        parent, when = "root", 1_700_000_000.0 + number * 1000
        for turn in range(turns):
            question, answer = f"q{turn}", f"a{turn}"
            mapping[question] = node(question, parent, "user", f"Question {turn} " + "words " * 20, when)
            mapping[answer] = node(answer, question, "assistant", f"Answer {turn} " + "reply " * 80, when + 1)
            parent, when = answer, when + 2
        mapping["alt"] = node("alt", "q0", "assistant", "Another first answer", when)
        mapping["tool"] = node("tool", "a0", "tool", "hidden output", when + 1)
        documents.append({"title": f"Chat {number}", "mapping": mapping, "current_node": parent})
    return json.dumps(documents).encode()


def timed(action):
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def measure(conversations: int, turns: int) -> dict[str, float]:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction

    from conversations import exports, selectors
    from conversations.imports import reading, services
    from conversations.models import Conversation, Message

    call_command("migrate", verbosity=0)
    settings.PARLEY_MAX_CONVERSATIONS_PER_HOUR = 10 * conversations
    users = get_user_model().objects
    bulk_user, naive_user = users.create(username="bulk"), users.create(username="naive")
    data = chatgpt_file(conversations, turns)
    limit = len(data) + 1
    records, read_s = timed(lambda: reading.read_file(data, max_bytes=limit))
    _, import_s = timed(lambda: services.conversations_import(owner=bulk_user, conversations=records))

    @transaction.atomic
    def naive_import():
        """The baseline: the same conversations, one INSERT per message."""
        for imported in records:
            conversation = Conversation.objects.create(owner=naive_user, title=imported.title)
            ids = {}
            for position, source in enumerate(imported.messages):
                ids[source.key] = Message.objects.create(
                    conversation=conversation, parent_id=ids.get(source.parent), position=position,
                    role=source.role, content=source.content,
                ).id  # fmt: skip

    _, naive_s = timed(naive_import)
    archive, export_s = timed(lambda: exports.export_archive(selectors.conversation_list_all(user=bulk_user)))
    messages = sum(len(imported.messages) for imported in records)
    return {
        "file_mb": len(data) / 1e6,
        "messages": messages,
        "read_s": read_s,
        "import_s": import_s,
        "naive_import_s": naive_s,
        "export_all_s": export_s,
        "zip_mb": len(archive) / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--turns", type=int, default=20)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir, throwaway(options.database, Path(workdir), "_transfer") as url:
        os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="chatsite.settings")
        numbers = measure(options.conversations, options.turns)
    print(f"database={options.database} conversations={options.conversations} turns={options.turns}")
    print(f"file {numbers['file_mb']:.1f} MB, {numbers['messages']} messages kept")
    print(f"read (parse and check)     {numbers['read_s']:.2f} s")
    print(f"import (bulk, one txn)     {numbers['import_s']:.2f} s")
    ratio = numbers["naive_import_s"] / numbers["import_s"]
    print(f"baseline: one INSERT each  {numbers['naive_import_s']:.2f} s  ({ratio:.1f}x the bulk import)")
    print(f"export all (zip)           {numbers['export_all_s']:.2f} s, {numbers['zip_mb']:.1f} MB")


if __name__ == "__main__":
    main()
