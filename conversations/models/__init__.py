"""Parley's database state, one module per concern; import models from here."""

from .api_access import ApiCall, ApiToken
from .chat import Conversation, Message, Regeneration

__all__ = ["ApiCall", "ApiToken", "Conversation", "Message", "Regeneration"]
