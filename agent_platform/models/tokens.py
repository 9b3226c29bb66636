"""The token counts the router sizes requests with and the provider simulator bills with.

:func:`count_tokens` is a deterministic heuristic (one token per 4 characters, rounded up) rather
than a vendor tokenizer: the simulator reports exactly this count as usage, so tests can check
costs to the cent, and the router sizes simulated requests with the same rule.

Real providers count with their own tokenizers, which can report more than 1 per 4 characters
(code, non-Latin scripts). For live calls the router sizes the prompt with
:func:`live_prompt_tokens`, an upper bound for byte-level BPE tokenizers: one token per UTF-8 byte
plus a per-message overhead for the chat template. The reported usage, not either estimate, is
what gets billed.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "CHARS_PER_TOKEN",
    "MESSAGE_OVERHEAD_TOKENS",
    "REPLY_PRIMING_TOKENS",
    "count_text_tokens",
    "count_tokens",
    "live_prompt_tokens",
]

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 8
REPLY_PRIMING_TOKENS = 8


def count_tokens(text: str) -> int:
    """Tokens of ``text``: ``ceil(len(text) / 4)``; 0 for the empty string."""
    return -(-len(text) // CHARS_PER_TOKEN)


def count_text_tokens(texts: Iterable[str]) -> int:
    """Tokens of several texts (each counted on its own, then summed)."""
    return sum(count_tokens(text) for text in texts)


def live_prompt_tokens(messages: Iterable[str]) -> int:
    """A conservative prompt size for a live provider: UTF-8 bytes of every message, plus
    :data:`MESSAGE_OVERHEAD_TOKENS` per message and :data:`REPLY_PRIMING_TOKENS` once."""
    return REPLY_PRIMING_TOKENS + sum(
        len(text.encode("utf-8")) + MESSAGE_OVERHEAD_TOKENS for text in messages
    )
