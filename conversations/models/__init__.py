"""Parley's database state, one module per concern; import models from here."""

from .chat import Conversation, Message, Regeneration
from .operations import ServerProcess

__all__ = ["Conversation", "Message", "Regeneration", "ServerProcess"]
