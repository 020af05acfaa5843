"""Parley's database state, one module per concern; import models from here."""

from .chat import Conversation, Message, Regeneration
from .operations import ServerProcess
from .sso import ExternalIdentity

__all__ = ["Conversation", "ExternalIdentity", "Message", "Regeneration", "ServerProcess"]
