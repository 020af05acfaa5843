"""Snippets as safe HTML: the database marks matches with two control characters (which no stored
title or user message may contain), then everything is escaped and only those marks become
`<mark>` tags. A stray or unbalanced mark is dropped, never turned into markup."""

from __future__ import annotations

import html
import re

START = "\x02"  # STX: where the database opens a match
STOP = "\x03"  # ETX: where it closes one
UNTAG = "\x01"  # put after `<` for PostgreSQL's parser (search/schema.py), taken out here
ELLIPSIS = "…"
MARKED = re.compile(f"{START}([^{START}{STOP}]*){STOP}")
CONTEXT = 60  # characters shown each side of the first match, when the snippet is cut here


def marked_html(text: str) -> str:
    """Escape everything; turn each balanced START…STOP into <mark>…</mark>."""
    escaped = html.escape(text.replace(UNTAG, ""), quote=True)
    marked = MARKED.sub(r"<mark>\1</mark>", escaped)
    return marked.replace(START, "").replace(STOP, "")


def mark_words(text: str, words: list[str]) -> str:
    """`text` cut around the first of `words` (case-insensitive), each occurrence marked, as safe
    HTML: the snippet of the substring engine, which has no database highlighter."""
    clean = text.replace(START, "").replace(STOP, "")
    pattern = re.compile("|".join(re.escape(word) for word in sorted(set(words), key=len, reverse=True)), re.I)
    first = pattern.search(clean) if words else None
    start = max(0, first.start() - CONTEXT) if first else 0
    end = min(len(clean), (first.end() if first else 0) + CONTEXT * 2)
    window = clean[start:end]
    if words:
        window = pattern.sub(lambda match: f"{START}{match.group(0)}{STOP}", window)
    prefix = ELLIPSIS if start > 0 else ""
    suffix = ELLIPSIS if end < len(clean) else ""
    return marked_html(f"{prefix}{window}{suffix}")
