"""Parley's database state, one module per concern; import models from here."""

from .api_access import ApiCall, ApiToken
from .catalog import LLMModel, Provider
from .chat import Conversation, Message, Regeneration
from .mcp import McpServer
from .operations import ServerProcess
from .sharing import ShareLink
from .sso import ExternalIdentity
from .storage import ConversationCreation, StorageUsage
from .uploads import Upload
from .usage import Budget, UsageRecord

__all__ = [
    "ApiCall",
    "ApiToken",
    "Budget",
    "Conversation",
    "ConversationCreation",
    "ExternalIdentity",
    "LLMModel",
    "McpServer",
    "Message",
    "Provider",
    "Regeneration",
    "ServerProcess",
    "ShareLink",
    "StorageUsage",
    "Upload",
    "UsageRecord",
]
