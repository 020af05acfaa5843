"""The search box's syntax is parsed once, and whatever is typed becomes a valid FTS5 query."""

from __future__ import annotations

import sqlite3

from hypothesis import given
from hypothesis import strategies as st

from conversations.search import terms
from conversations.search.terms import Group


def test_words_phrases_exclusions_and_alternatives_are_read_as_postgresql_reads_them():
    assert terms.parse('lisbon "pastel de nata" -cod or porto') == [
        Group(include=["lisbon", "pastel de nata"], exclude=["cod"]),
        Group(include=["porto"]),
    ]


def test_groups_with_nothing_to_include_and_bare_punctuation_are_dropped():
    assert terms.parse("-cod") == []
    assert terms.parse("... ; -- or") == []
    assert terms.parse('"unclosed phrase') == [Group(include=["unclosed phrase"])]


def test_postgresql_gets_the_parsed_groups_back_as_websearch_text():
    groups = terms.parse('lisbon -cod or "a b" or -only')
    assert terms.websearch_text(groups) == '"lisbon" -"cod" or "a b"'


def test_fts5_expression_quotes_every_phrase():
    groups = terms.parse('NEAR(a b) col:x -"y z" or OR')
    assert terms.fts5_expression(groups) == '(("NEAR(a" AND "b)" AND "col:x") NOT "y z")'


PIECES = [*"ab \"-*:^()+.'", " or ", "OR", "NOT", "NEAR", "AND", "é", "\u00a0"]


@given(st.lists(st.sampled_from(PIECES), max_size=20))
def test_any_input_is_a_valid_fts5_query(pieces):
    groups = terms.parse("".join(pieces))
    if not groups:
        return
    database = sqlite3.connect(":memory:")
    database.execute("CREATE VIRTUAL TABLE t USING fts5(body)")
    database.execute("INSERT INTO t VALUES ('a b or not near')")
    database.execute("SELECT * FROM t WHERE t MATCH ?", [terms.fts5_expression(groups)]).fetchall()
