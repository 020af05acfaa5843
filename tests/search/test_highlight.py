"""Snippets are escaped HTML in which only the highlight is markup."""

from __future__ import annotations

from conversations.search import highlight
from conversations.search.highlight import START, STOP


def test_everything_is_escaped_but_the_marks():
    text = f'<img src=x onerror="alert(1)"> {START}lighthouse{STOP} & <b>'
    assert highlight.marked_html(text) == (
        "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; <mark>lighthouse</mark> &amp; &lt;b&gt;"
    )


def test_a_stray_or_unbalanced_mark_never_becomes_markup():
    assert highlight.marked_html(f"a{START}b {STOP}c{STOP} {START}d") == "a<mark>b </mark>c d"


def test_marking_words_cuts_around_the_first_match_and_marks_each():
    text = "x" * 200 + " The Lighthouse keeper kept the lighthouse <lit>. " + "y" * 200
    snippet = highlight.mark_words(text, ["lighthouse"])
    assert snippet.startswith(highlight.ELLIPSIS) and snippet.endswith(highlight.ELLIPSIS)
    assert snippet.count("<mark>") == 2
    assert "<mark>Lighthouse</mark>" in snippet and "&lt;lit&gt;" in snippet
