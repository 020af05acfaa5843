"""The production launcher: its daphne arguments, and the garbage collector it settles at start-up."""

from __future__ import annotations

import gc

from chatsite.server import DEFAULT_APPLICATION, GC_YOUNG_THRESHOLD, daphne_arguments, settle_garbage_collector


def test_frame_limits_and_application_are_added():
    arguments = daphne_arguments(["-b", "::1", "-p", "8000"], 4096)
    assert arguments[-1] == DEFAULT_APPLICATION
    assert arguments[arguments.index("--websocket-max-message-size") + 1] == "4096"
    assert arguments[arguments.index("--websocket-max-frame-size") + 1] == "4096"


def test_explicit_choices_are_kept():
    arguments = daphne_arguments(["--websocket-max-message-size=99", "other.asgi:app"], 4096)
    assert "--websocket-max-message-size" not in arguments
    assert DEFAULT_APPLICATION not in arguments
    assert arguments.count("other.asgi:app") == 1


def test_the_websocket_handshake_is_bounded():
    arguments = daphne_arguments(["-p", "8000"], 4096, handshake_timeout=7)
    assert arguments[arguments.index("--websocket_connect_timeout") + 1] == "7"
    assert "--websocket_connect_timeout=3" in daphne_arguments(["--websocket_connect_timeout=3"], 4096)


def test_the_collector_is_settled_for_a_long_running_server():
    """Start-up objects frozen, and young collections far rarer than CPython's default."""
    before = gc.get_threshold()
    try:
        settle_garbage_collector()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *before[1:])
        assert before[0] < GC_YOUNG_THRESHOLD
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
