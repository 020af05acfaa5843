"""Parley's database state, one module per concern; import models from here."""

from .catalog import LLMModel, Provider
from .chat import Conversation, Message, Regeneration
from .operations import ServerProcess
from .sso import ExternalIdentity
from .usage import StorageUsage

__all__ = [
    "Conversation",
    "ExternalIdentity",
    "LLMModel",
    "Message",
    "Provider",
    "Regeneration",
    "ServerProcess",
    "StorageUsage",
]
