"""The model catalog: the LLM providers a deployment talks to and the models users may pick.

Rows here are data, managed in the Django admin or loaded from a TOML file (`manage.py
load_models`); nothing in this module talks to a provider. A provider's API key is stored only
encrypted (`conversations/crypto.py`), or named by the environment variable that holds it.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from .. import crypto

PRICE = {"max_digits": 12, "decimal_places": 6, "default": Decimal(0), "validators": [MinValueValidator(Decimal(0))]}


class Provider(models.Model):
    """An upstream LLM server: its wire kind, where it is, and how to authenticate to it."""

    class Kind(models.TextChoices):
        OPENAI = "openai", "OpenAI-compatible"
        ANTHROPIC = "anthropic", "Anthropic"
        OLLAMA = "ollama", "Ollama"
        SIMULATOR = "simulator", "Parley simulator"

    name = models.SlugField(max_length=100, unique=True, help_text="Short name, used in model files and the API.")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.OPENAI)
    base_url = models.URLField(
        max_length=500, blank=True, help_text="API root as the vendor documents it; empty means the vendor's default."
    )
    # Fernet token of the API key (PARLEY_ENCRYPTION_KEY); never shown back, only its last characters.
    api_key_encrypted = models.TextField(blank=True, editable=False)
    api_key_hint = models.CharField(max_length=20, blank=True, editable=False)
    api_key_env = models.CharField(
        max_length=100, blank=True, help_text="Read the API key from this environment variable instead of storing it."
    )
    extra_headers = models.JSONField(default=dict, blank=True, help_text='Sent with every request: {"name": "value"}.')
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def set_api_key(self, api_key: str) -> None:
        """Store `api_key` encrypted (empty clears it); the plain text is kept nowhere."""
        self.api_key_encrypted = crypto.encrypt(api_key) if api_key else ""
        self.api_key_hint = crypto.hint(api_key) if api_key else ""

    def api_key(self) -> str:
        """The key to send upstream: from the named environment variable, else decrypted."""
        if self.api_key_env:
            return settings.PROVIDER_KEY_ENVIRONMENT.get(self.api_key_env, "")
        return crypto.decrypt(self.api_key_encrypted) if self.api_key_encrypted else ""

    @property
    def api_key_display(self) -> str:
        if self.api_key_env:
            return f"from ${self.api_key_env}"
        return self.api_key_hint or "none"


class LLMModel(models.Model):
    """One model of a provider that users may pick, with its capabilities and prices."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="models")
    name = models.CharField(max_length=200, help_text="The model name the provider's API expects.")
    label = models.CharField(max_length=200, blank=True, help_text="Shown in the picker; empty shows the name.")
    context_window = models.PositiveIntegerField(null=True, blank=True, help_text="In tokens, if known.")
    vision = models.BooleanField(default=False, help_text="Accepts images.")
    tools = models.BooleanField(default=False, help_text="Can call tools.")
    # Names of the tools offered to it: a PARLEY_TOOLS function's name, an MCP server's name (all its
    # tools) or <server>__<tool> (one of them). Empty offers every tool (conversations/tools/offered.py).
    allowed_tools = models.JSONField(
        default=list, blank=True, help_text="Only these tools and MCP servers are offered to it; none: all of them."
    )
    input_per_mtok = models.DecimalField("input USD / M tokens", **PRICE)
    output_per_mtok = models.DecimalField("output USD / M tokens", **PRICE)
    enabled = models.BooleanField(default=True)
    is_default = models.BooleanField("default", default=False, help_text="Used when a conversation names no model.")
    allowed_groups = models.ManyToManyField(
        Group,
        blank=True,
        related_name="llm_models",
        help_text="Only members of these groups may use it; none: everyone.",
    )
    position = models.IntegerField(default=0, help_text="Order in the picker, lowest first.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "model"
        ordering = ["position", "label", "name"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "name"], name="llmmodel_unique_name"),
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="llmmodel_one_default"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.label or self.name

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> Decimal:
        """What a reply of these sizes costs at this model's current prices."""
        per_million = self.input_per_mtok * prompt_tokens + self.output_per_mtok * completion_tokens
        return per_million / Decimal(1_000_000)
