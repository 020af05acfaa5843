"""Realtime tests close asgiref's worker-thread connection (users and conversations come from tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def thread_connections_closed(close_thread_connections):
    """Every test here closes asgiref's worker-thread connection (see tests/sockets.py)."""
