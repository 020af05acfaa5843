"""Admin for the model catalog: providers (with a write-only API key) and the models users pick from.

An API key goes in through a password field that never renders its value; afterwards only its
last characters are shown. The encrypted token itself is not a form field either.
"""

from __future__ import annotations

import logging

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from django.http import HttpRequest

from ..llm.errors import LLMError
from ..models import LLMModel, McpServer, Provider
from ..tools.offered import server_entry
from ..tools.registry import configured_tools
from .fetch import fetch_models

logger = logging.getLogger(__name__)


class ProviderForm(forms.ModelForm):
    base_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text="API root as the vendor documents it; empty means the vendor's default.",
    )
    api_key = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted (PARLEY_ENCRYPTION_KEY), never shown again; leave empty to keep the current key.",
    )
    clear_api_key = forms.BooleanField(required=False, help_text="Remove the stored key.")

    class Meta:
        model = Provider
        fields = ("name", "kind", "base_url", "api_key", "clear_api_key", "api_key_env", "extra_headers")

    def clean(self):
        data = super().clean()
        if data.get("api_key") and data.get("api_key_env"):
            raise forms.ValidationError("Give an API key or the environment variable that holds it, not both.")
        if data.get("api_key"):
            try:
                self.instance.set_api_key(data["api_key"])
            except ImproperlyConfigured as error:
                self.add_error("api_key", str(error))
        elif data.get("clear_api_key") or data.get("api_key_env"):
            self.instance.set_api_key("")
        headers = data.get("extra_headers")
        if headers is not None and (
            not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values())
        ):
            self.add_error("extra_headers", 'Give a JSON object of header names and text values: {"name": "value"}.')
        return data


class LLMModelForm(forms.ModelForm):
    """The model's tools as checkboxes: each PARLEY_TOOLS function and each registered MCP server."""

    allowed_tools = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Tools offered",
        help_text="Tick the tools and MCP servers this model is offered (when it can call tools); "
        "none ticked offers all of them, including ones added later.",
    )

    class Meta:
        model = LLMModel
        fields = "__all__"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["allowed_tools"].choices = tool_choices(self.instance.allowed_tools or [])


def tool_choices(saved: list[str]) -> list[tuple[str, str]]:
    """Local tools, then MCP servers (all of each one's tools), then saved entries neither names now,
    kept so that saving the form never drops them silently."""
    try:
        local = [(name, f"{name} (PARLEY_TOOLS)") for name in configured_tools()]
    except ImproperlyConfigured:  # reported by the system check parley.E003
        local = []
    names = McpServer.objects.values_list("name", flat=True)
    servers = [(server_entry(name), f"every tool of the MCP server {name}") for name in names]
    known = {value for value, _ in local + servers}
    missing = [(entry, f"{entry} (not available now)") for entry in saved if entry not in known]
    return local + servers + missing


class LLMModelInline(admin.TabularInline):
    model = LLMModel
    extra = 0
    fields = ("name", "label", "enabled", "is_default", "vision", "tools", "input_per_mtok", "output_per_mtok")
    show_change_link = True


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    list_display = ("name", "kind", "base_url", "key", "model_count")
    readonly_fields = ("key",)
    search_fields = ("name", "base_url")
    inlines = [LLMModelInline]
    actions = ["fetch_model_list"]

    @admin.display(description="API key")
    def key(self, provider: Provider) -> str:
        return provider.api_key_display

    @admin.display(description="models")
    def model_count(self, provider: Provider) -> int:
        return provider.models.count()

    @admin.action(description="Fetch the model list from the selected providers")
    def fetch_model_list(self, request: HttpRequest, queryset: QuerySet[Provider]) -> None:
        for provider in queryset:
            try:
                added = fetch_models(provider)
            except LLMError as error:
                logger.info("Fetching the models of %s failed: %s", provider.name, error.detail)
                self.message_user(request, f"{provider.name}: {error.detail}", messages.ERROR)
                continue
            names = ", ".join(model.name for model in added) or "none"
            self.message_user(request, f"{provider.name}: {len(added)} new model(s), added disabled: {names}.")


@admin.register(LLMModel)
class LLMModelAdmin(admin.ModelAdmin):
    form = LLMModelForm
    list_display = (
        "display_name", "name", "provider", "enabled", "is_default", "vision", "tools", "tools_offered",
        "input_per_mtok", "output_per_mtok", "groups",
    )  # fmt: skip
    list_editable = ("enabled",)
    list_filter = ("enabled", "provider", "vision", "tools", "allowed_groups")
    search_fields = ("name", "label")
    list_select_related = ("provider",)
    filter_horizontal = ("allowed_groups",)
    actions = ["enable", "disable"]

    @admin.display(description="tools offered")
    def tools_offered(self, model: LLMModel) -> str:
        if not model.tools:
            return "none"
        return ", ".join(model.allowed_tools) or "all"

    @admin.display(description="groups")
    def groups(self, model: LLMModel) -> str:
        return ", ".join(group.name for group in model.allowed_groups.all()) or "everyone"

    @admin.action(description="Enable the selected models")
    def enable(self, request: HttpRequest, queryset: QuerySet[LLMModel]) -> None:
        self.message_user(request, f"{queryset.update(enabled=True)} model(s) enabled.")

    @admin.action(description="Disable the selected models")
    def disable(self, request: HttpRequest, queryset: QuerySet[LLMModel]) -> None:
        self.message_user(request, f"{queryset.update(enabled=False)} model(s) disabled.")

    def save_model(self, request: HttpRequest, obj: LLMModel, form, change: bool) -> None:
        """One default at a time: marking a model default takes it from the previous one."""
        if obj.is_default:
            LLMModel.objects.filter(is_default=True).exclude(id=obj.id).update(is_default=False)
        super().save_model(request, obj, form, change)
