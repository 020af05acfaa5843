"""The OpenAI-compatible API under /v1/: personal-token auth, models, chat completions.

A call either streams straight from the configured provider (`direct.py`), or, with the
`X-Parley-Conversation` header, is saved in a conversation and runs through the generation
service like any reply, so browsers watch it live (`persisted.py`). Both feed one `Call`
(`calls.py`), which the views turn into OpenAI's JSON or SSE shapes (`shapes.py`).
"""
