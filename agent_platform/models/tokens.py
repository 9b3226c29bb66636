"""The token count the router estimates with and the provider simulator bills with.

A deterministic heuristic (one token per 4 characters, rounded up, over the text of every message)
rather than a vendor tokenizer: the simulator reports exactly this count as usage, so tests can
check costs to the cent, and the router sizes reservations with the same rule. Real providers count
with their own tokenizers; their reported usage, not this estimate, is what gets billed.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["CHARS_PER_TOKEN", "count_text_tokens", "count_tokens"]

CHARS_PER_TOKEN = 4


def count_tokens(text: str) -> int:
    """Tokens of ``text``: ``ceil(len(text) / 4)``; 0 for the empty string."""
    return -(-len(text) // CHARS_PER_TOKEN)


def count_text_tokens(texts: Iterable[str]) -> int:
    """Tokens of several texts (each counted on its own, then summed)."""
    return sum(count_tokens(text) for text in texts)
