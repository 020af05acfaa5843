"""Filling and keeping the model catalog: from LLM_* settings, from a TOML file, from a provider's list."""
