"""Parley's database state, one module per concern; import models from here."""

from .catalog import LLMModel, Provider
from .chat import Conversation, Message, Regeneration
from .operations import ServerProcess

__all__ = ["Conversation", "LLMModel", "Message", "Provider", "Regeneration", "ServerProcess"]
