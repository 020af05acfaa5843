"""Typed provider failures. Each carries words a user can read and the text received so far."""

from __future__ import annotations


class LLMError(Exception):
    """Base class: `user_message` is shown to people, `partial` is the reply text before the failure."""

    user_message = "The language model failed to answer."
    status: int | None = None  # the upstream HTTP status, when the failure was an error response

    def __init__(self, detail: str = "", *, partial: str = "", user_message: str | None = None) -> None:
        super().__init__(detail or self.user_message)
        self.detail = detail
        self.partial = partial
        if user_message is not None:
            self.user_message = user_message


class UpstreamConnectError(LLMError):
    user_message = "Could not connect to the language model service."


class UpstreamTimeout(LLMError):
    user_message = "The language model service took too long to respond."


class AuthenticationFailed(LLMError):
    user_message = "The language model service rejected the API key."


class ModelNotFound(LLMError):
    user_message = "The language model service does not know this model."


class RateLimited(LLMError):
    user_message = "The language model service is rate-limiting requests; try again shortly."


class UpstreamUnavailable(LLMError):
    user_message = "The language model service is having trouble (server error)."


class UpstreamProtocolError(LLMError):
    user_message = "The language model service sent a response Parley could not understand."


class StreamInterrupted(LLMError):
    user_message = "The connection to the language model broke before the reply finished."


class UpstreamErrorEvent(LLMError):
    user_message = "The language model service reported an error while answering."


class DeadlineExceeded(LLMError):
    user_message = "The reply took longer than the allowed time and was stopped."
