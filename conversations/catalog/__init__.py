"""The model catalog: filling it (from LLM_* settings, a TOML file, a provider's list), its admin,
and `GET /api/models/`."""
