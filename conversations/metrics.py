"""The process's Prometheus metrics, in the client's default registry.

Each daphne process counts for itself and serves its own `/metrics` (docs/operations.md says why
not the client's multiprocess mode). The streaming path pays per flush, never per token: tokens
are counted by the broadcaster once per flush, and a reply's time to first token is observed once.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from .llm import errors

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0)
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 60.0)
FLUSH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)

OPEN_SOCKETS = Gauge("parley_open_sockets", "WebSockets accepted by this process and still open.", ["endpoint"])
RUNNING_REPLIES = Gauge("parley_running_replies", "Replies this process is generating now.")
REPLIES = Counter("parley_replies_total", "Replies this process finished, by final status.", ["status"])
TOKENS_STREAMED = Counter(
    "parley_tokens_streamed_total", "Text chunks (tokens, as providers stream them) published to clients."
)
TIME_TO_FIRST_TOKEN = Histogram(
    "parley_time_to_first_token_seconds",
    "From a reply's start (send or regenerate) to its first text reaching the broadcaster.",
    buckets=TTFT_BUCKETS,
)
ADDED_LATENCY = Histogram(
    "parley_added_latency_seconds",
    "Per flush: how long its oldest text waited in Parley (coalescing and publishing) before Redis had it.",
    buckets=LATENCY_BUCKETS,
)
FLUSH_SIZE = Histogram(
    "parley_broadcast_flush_entries", "Frames and deltas published per broadcaster flush.", buckets=FLUSH_BUCKETS
)
UPSTREAM_ERRORS = Counter(
    "parley_upstream_errors_total",
    "Replies that failed upstream, by provider and code (the HTTP status, or the kind of failure).",
    ["provider", "code"],
)
REDIS_ERRORS = Counter("parley_redis_errors_total", "Failed Redis operations, by operation.", ["operation"])
DATABASE_ERRORS = Counter("parley_database_errors_total", "Failed database operations, by operation.", ["operation"])
# Label children bound once, for the paths that use them often.
BROADCAST_REDIS_ERRORS = REDIS_ERRORS.labels(operation="broadcast")
CONVERSATION_SOCKETS = OPEN_SOCKETS.labels(endpoint="conversation")

# The failure kinds a reply can end with when no HTTP status explains it.
ERROR_KINDS: tuple[tuple[type[errors.LLMError], str], ...] = (
    (errors.DeadlineExceeded, "deadline"),
    (errors.UpstreamConnectError, "connect"),
    (errors.UpstreamTimeout, "timeout"),
    (errors.StreamInterrupted, "interrupted"),
    (errors.UpstreamProtocolError, "protocol"),
    (errors.UpstreamErrorEvent, "error_event"),
)


def upstream_error_code(error: errors.LLMError) -> str:
    """The `code` label: the upstream HTTP status when it answered with one, else the kind of failure."""
    if error.status is not None:
        return str(error.status)
    for kind, code in ERROR_KINDS:
        if isinstance(error, kind):
            return code
    return "other"
