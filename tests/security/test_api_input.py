"""The JSON API answers text that cannot be stored with 400, never a server error."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("field", ["title", "system_prompt"])
@pytest.mark.parametrize("method", ["post", "patch"])
def test_a_lone_surrogate_is_a_400_not_a_500(alice_client, answered_conversation, field, method):
    path = "/api/conversations/" if method == "post" else f"/api/conversations/{answered_conversation.id}/"
    response = getattr(alice_client, method)(path, f'{{"{field}": "a\\ud800b"}}', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["field"] == field
