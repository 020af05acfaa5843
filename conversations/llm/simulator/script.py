"""What the simulator says: deterministic markdown by seed, cut into word-ish tokens.

Every reply has a heading, a paragraph, a list, a code block and a table, so the UI's markdown
rendering is exercised by default; the text is seeded, so the same seed gives the same reply.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache

MODEL_NAME = "parley-simulator"

_TOKEN = re.compile(r"\s*\S+|\s+")
_TOPICS = ["streaming", "backpressure", "websockets", "caching", "retries", "latency", "tokens", "queues"]
_WORDS = (  # noqa: SIM905 - one readable paragraph of words
    "the a server client stream reply token buffer socket event loop worker message chunk network "
    "request fast slow steady simple quiet careful each every first last small large over under with "
    "sends reads writes waits keeps drops holds checks moves counts"
).split()
_LANGS = {"python": "def {a}({b}):\n    return {b} * 2\n", "javascript": "const {a} = ({b}) => {b} * 2;\n"}


def tokenize(text: str) -> list[str]:
    """Split text into word-ish tokens that join back to exactly the same text."""
    return _TOKEN.findall(text)


@lru_cache(maxsize=256)
def markdown_reply(seed: int, tokens: int) -> tuple[str, ...]:
    """Exactly `tokens` tokens of seeded markdown; cached, since benchmarks ask for the same reply often."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < tokens:
        out.extend(tokenize(_document(rng) + "\n\n"))
    return tuple(out[:tokens])


def _document(rng: random.Random) -> str:
    topic = rng.choice(_TOPICS)
    lang = rng.choice(sorted(_LANGS))
    code = _LANGS[lang].format(a=f"{topic}_{rng.randint(1, 9)}", b=rng.choice(["n", "x", "size"]))
    return (
        f"## Notes on {topic} (simulated)\n\n"
        f"{_sentence(rng)} {_sentence(rng)}\n\n"
        f"- {_phrase(rng, 3)}\n- {_phrase(rng, 3)}\n- {_phrase(rng, 3)}\n\n"
        f"```{lang}\n{code}```\n\n"
        f"| Name | Value |\n|---|---|\n| {rng.choice(_WORDS)} | {rng.randint(1, 999)} |\n"
        f"| {rng.choice(_WORDS)} | {rng.randint(1, 999)} |\n\n"
        f"{_sentence(rng)}"
    )


def _sentence(rng: random.Random) -> str:
    text = _phrase(rng, rng.randint(5, 9))
    return text[0].upper() + text[1:] + "."


def _phrase(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))
