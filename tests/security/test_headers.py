"""The chat page is served with a policy that forbids inline script and foreign images.

Rendering is tested in a browser (tests/browser/test_rendering.py); this pins the header itself,
so a reply that slipped past the sanitizer still could not run script or load a tracking image.
"""

from __future__ import annotations

from conversations.middleware import build_policy


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in policy.split(";"))}


def test_the_chat_page_forbids_inline_script_and_foreign_images(alice_client, answered_conversation):
    response = alice_client.get(f"/c/{answered_conversation.id}/")
    assert response.status_code == 200
    policy = directives(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert response["X-Frame-Options"] == "DENY"


def test_trusted_image_hosts_are_the_only_additions():
    policy = build_policy(["https://img.example.com"])
    assert "img-src 'self' data: https://img.example.com;" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
