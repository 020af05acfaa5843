"""Parley on three "hosts" (Linux network namespaces) behind nginx, sharing PostgreSQL and Redis.

`python -m bench.multihost` runs it (docs/multihost.md); tests/bench/test_multihost.py is its smoke.
"""
