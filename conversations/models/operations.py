"""What the operators' live console knows of the server processes, and the permission to use it."""

from __future__ import annotations

from django.db import models


class ServerProcess(models.Model):
    """One Parley process (one generation worker), as its last heartbeat described it."""

    name = models.CharField(max_length=200, unique=True, help_text="The worker's control channel.")
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField(db_index=True)
    open_sockets = models.PositiveIntegerField(default=0)
    running_replies = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-heartbeat_at"]
        permissions = [("use_live_console", "Can watch and stop every reply in the live console")]

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}"
