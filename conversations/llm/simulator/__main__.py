"""`python -m conversations.llm.simulator --port 8001 --tps 50`"""

from __future__ import annotations

from .cli import main

main()
