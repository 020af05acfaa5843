"""The search box's little language, as PostgreSQL's `websearch_to_tsquery` reads it: words,
"quoted phrases", `-word` to exclude, and `or` between alternatives. Parsed once here, so the
FTS5 and substring engines accept exactly what PostgreSQL does and never see raw syntax."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# A quoted phrase (closed or running to the end), or a run of anything but space and quotes.
TOKEN = re.compile(r'(-?)"([^"]*)"?|(-?)([^\s"]+)')
WORD = re.compile(r"\w")


@dataclass
class Group:
    """Phrases that must all appear, and phrases that must not."""

    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)


def parse(text: str) -> list[Group]:
    """Alternatives (`or`) of groups; groups with nothing to include are dropped, as they would
    match everything but their exclusions, which no engine here can rank."""
    groups = [Group()]
    for match in TOKEN.finditer(text):
        negated = bool(match.group(1) or match.group(3))
        phrase = match.group(2) if match.group(2) is not None else match.group(4)
        if match.group(4) is not None and phrase.lower() == "or" and not negated:
            groups.append(Group())
            continue
        phrase = " ".join(phrase.split())
        if not WORD.search(phrase):  # punctuation alone matches nothing in any engine
            continue
        (groups[-1].exclude if negated else groups[-1].include).append(phrase)
    return [group for group in groups if group.include]


def fts5_expression(groups: list[Group]) -> str:
    """An FTS5 MATCH expression for the groups: every phrase quoted, so no input is FTS5 syntax."""
    alternatives = []
    for group in groups:
        expression = " AND ".join(quote(phrase) for phrase in group.include)
        for phrase in group.exclude:
            expression = f"({expression}) NOT {quote(phrase)}"
        alternatives.append(f"({expression})")
    return " OR ".join(alternatives)


def quote(phrase: str) -> str:
    return '"' + phrase.replace('"', '""') + '"'


def words(groups: list[Group]) -> list[str]:
    """Every included word, for marking matches in a snippet the database did not write."""
    return [word for group in groups for phrase in group.include for word in phrase.split()]


def websearch_text(groups: list[Group]) -> str:
    """The groups written back for PostgreSQL's `websearch_to_tsquery`, so it reads what the
    other engines read (an exclusion-only group, which it would match against everything, is gone)."""
    written = []
    for group in groups:
        included = [quote(phrase) for phrase in group.include]
        excluded = [f"-{quote(phrase)}" for phrase in group.exclude]
        written.append(" ".join(included + excluded))
    return " or ".join(written)
