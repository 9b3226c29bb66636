"""Canonical JSON and SHA-256: the one definition of "the same content" in this project.

Sorted keys, fixed separators, UTF-8 (no ASCII escaping), and no NaN or infinity, so two
processes that hold equal values always produce identical bytes and identical hashes. The state
repository, the ledger, graph replay and the evidence gate all hash through this module.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from agent_platform.errors import PayloadError

__all__ = ["canonical_json", "content_hash", "sha256_hex"]


def canonical_json(value: Any) -> bytes:
    """Serialise ``value`` canonically; raises :class:`PayloadError` if it is not JSON."""
    try:
        text = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        # A lone surrogate passes json.dumps but is not UTF-8: the same bad input, same error.
        return text.encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise PayloadError(f"payload is not JSON-serialisable: {exc}") from exc


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_hash(value: Any) -> str:
    """SHA-256 of the canonical JSON of ``value``."""
    return sha256_hex(canonical_json(value))
