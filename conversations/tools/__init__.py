"""Tools: plain Python functions a model may call during a reply (docs/tools.md).

`registry` loads them from `PARLEY_TOOLS`, `schema` describes them from their type hints and
docstrings, `runner` runs one call off the event loop, and `loop` is the ask-run-answer loop that
`conversations.generation` runs inside a reply.
"""
