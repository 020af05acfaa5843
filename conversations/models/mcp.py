"""MCP servers an admin registered: their tools are offered to models like local ones (docs/tools.md)."""

from __future__ import annotations

from django.db import models


class McpServer(models.Model):
    """A Model Context Protocol server reached over streamable HTTP."""

    name = models.SlugField(
        max_length=40, unique=True, help_text="Short name; its tools are offered as <name>__<tool>."
    )
    url = models.URLField(max_length=500, help_text="The streamable HTTP endpoint, e.g. https://tools.example.com/mcp")
    headers = models.JSONField(
        default=dict, blank=True, help_text='Extra HTTP headers, e.g. {"Authorization": "Bearer ..."}.'
    )
    enabled = models.BooleanField(default=True)
    # Set when the server stops answering, cleared when it answers again: the admin sees why its tools are missing.
    last_error = models.TextField(blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "MCP server"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
