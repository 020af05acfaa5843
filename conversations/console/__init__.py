"""The operators' live console in the Django admin: what every process is generating, and its controls."""
