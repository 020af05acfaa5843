"""Search on PostgreSQL: `websearch_to_tsquery` against the GIN-indexed `search_vector` columns
(schema.py), `ts_rank` for order, and `ts_headline` for snippets, computed only for the hits kept."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVectorField
from django.db.models import F, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Left, Replace

from ..models import Conversation, Message
from . import highlight
from .highlight import UNTAG
from .hits import MESSAGE_FIELDS, TITLE_FIELDS, Hit, best_first, message_hit, title_hit
from .schema import CONFIG, INDEXED_CHARACTERS

SNIPPET_OPTIONS = {
    "max_words": 30,
    "min_words": 12,
    "max_fragments": 2,
    "fragment_delimiter": f" {highlight.ELLIPSIS} ",
}


def stored_vector(table: str) -> RawSQL:
    """The generated column schema.py adds (not a model field, so only searches read it)."""
    return RawSQL(f'"{table}"."search_vector"', [], output_field=SearchVectorField())


def matching(rows: QuerySet, table: str, query: SearchQuery, limit: int) -> list[dict]:
    """Ids and ranks of the best `limit` rows the query matches, best first."""
    vector = stored_vector(table)
    ranked = rows.annotate(vector=vector, rank=SearchRank(vector, query)).filter(vector=query)
    return list(ranked.order_by("-rank", "-created_at").values("id", "rank")[:limit])


def headline(column: str, query: SearchQuery, **options) -> SearchHeadline:
    """ts_headline over the text as it was indexed (schema.py), so tags stay text."""
    text = Replace(Left(F(column), INDEXED_CHARACTERS), Value("<"), Value("<" + UNTAG))
    return SearchHeadline(text, query, config=CONFIG, start_sel=highlight.START, stop_sel=highlight.STOP, **options)


def message_hits(user: AbstractBaseUser, query: SearchQuery, limit: int) -> list[Hit]:
    found = matching(Message.objects.filter(conversation__owner=user), "conversations_message", query, limit)
    ranks = {row["id"]: row["rank"] for row in found}
    rows = (
        Message.objects.filter(id__in=ranks)
        .annotate(snippet=headline("content", query, **SNIPPET_OPTIONS))
        .values(*MESSAGE_FIELDS, "snippet")
    )
    return [message_hit(row, snippet=highlight.marked_html(row["snippet"]), rank=ranks[row["id"]]) for row in rows]


def title_hits(user: AbstractBaseUser, query: SearchQuery, limit: int) -> list[Hit]:
    found = matching(Conversation.objects.filter(owner=user), "conversations_conversation", query, limit)
    ranks = {row["id"]: row["rank"] for row in found}
    rows = (
        Conversation.objects.filter(id__in=ranks)
        .annotate(snippet=headline("title", query, highlight_all=True))
        .values(*TITLE_FIELDS, "snippet")
    )
    return [title_hit(row, snippet=highlight.marked_html(row["snippet"]), rank=ranks[row["id"]]) for row in rows]


def search(*, user: AbstractBaseUser, text: str, limit: int) -> list[Hit]:
    """`text` is websearch syntax as terms.websearch_text writes it."""
    query = SearchQuery(text, search_type="websearch", config=CONFIG)
    return best_first(title_hits(user, query, limit), message_hits(user, query, limit), limit)
