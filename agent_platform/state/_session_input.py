"""Validation of what callers hand the state repository: settings, session ids, payloads.

Every check runs before anything is written, and a refusal names the value and what is
allowed (:class:`InvalidInputError` or :class:`PayloadError`). The check of a row read back
from SQL against its stored hash lives here too: it is the same hashing, in reverse.
"""

from __future__ import annotations

from typing import Any

from agent_platform.canonical import canonical_json, sha256_hex
from agent_platform.errors import IntegrityError, InvalidInputError, PayloadError
from agent_platform.inputs import clip
from agent_platform.state._text import unstorable
from agent_platform.state.tables import SESSION_ID_MAX

__all__ = ["check_settings", "checked_body", "encode_payload", "session_key"]


def check_settings(ttl_seconds: float, max_payload_bytes: int) -> None:
    """Refuse a non-positive TTL or a payload limit too small for any JSON value."""
    if not ttl_seconds > 0:
        raise InvalidInputError(f"ttl_seconds must be > 0, got {ttl_seconds!r}")
    if max_payload_bytes < 2:
        raise InvalidInputError(f"max_payload_bytes must be >= 2, got {max_payload_bytes!r}")


def session_key(prefix: str, session_id: object) -> str:
    """The cache key of ``session_id``, after checking it is a str of allowed length."""
    if not isinstance(session_id, str):
        raise InvalidInputError(
            f"session_id: got {type(session_id).__name__}; allowed: a str of 1..{SESSION_ID_MAX} characters"
        )
    if not session_id or len(session_id) > SESSION_ID_MAX:
        raise InvalidInputError(
            f"session_id: got {clip(session_id, 40)} ({len(session_id)} characters); "
            f"allowed: 1..{SESSION_ID_MAX} characters"
        )
    problem = unstorable(session_id)
    if problem is not None:
        raise InvalidInputError(
            f"session_id: got {clip(session_id, 40)}, which {problem}; "
            "allowed: UTF-8 encodable text without NUL"
        )
    return prefix + session_id


def encode_payload(session_id: str, payload: Any, max_bytes: int) -> tuple[bytes, str]:
    """Canonical JSON of ``payload`` and its SHA-256; PayloadError when not JSON or too large."""
    try:
        body = canonical_json(payload)
    except PayloadError as exc:
        raise PayloadError(f"session {session_id!r}: {exc}") from exc
    if len(body) > max_bytes:
        raise PayloadError(
            f"session {session_id!r}: payload is {len(body)} bytes of canonical JSON; "
            f"allowed: at most {max_bytes}"
        )
    return body, sha256_hex(body)


def checked_body(session_id: str, payload: str, payload_hash: str) -> bytes:
    """The stored payload as bytes; IntegrityError when it no longer matches its hash."""
    body = payload.encode("utf-8")
    if sha256_hex(body) != payload_hash:
        raise IntegrityError(
            f"session {session_id!r}: stored payload does not match its SHA-256 {payload_hash}"
        )
    return body
