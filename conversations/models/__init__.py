"""Parley's database state, one module per concern; import models from here."""

from .chat import Conversation, Message, Regeneration
from .uploads import Upload

__all__ = ["Conversation", "Message", "Regeneration", "Upload"]
