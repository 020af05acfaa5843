"""Parley's database state, one module per concern; import models from here."""

from .chat import Conversation, Message, Regeneration
from .usage import StorageUsage

__all__ = ["Conversation", "Message", "Regeneration", "StorageUsage"]
