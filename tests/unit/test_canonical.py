"""Canonical JSON: one byte string per value, whatever the key order or the process."""

from __future__ import annotations

import hashlib

import pytest

from agent_platform.canonical import canonical_json, content_hash, sha256_hex
from agent_platform.errors import InvalidInputError, PayloadError


def test_sorted_keys_fixed_separators_utf8() -> None:
    assert canonical_json({"b": 1, "a": [1, 2], "é": "ü"}) == '{"a":[1,2],"b":1,"é":"ü"}'.encode()


def test_key_order_does_not_change_the_hash() -> None:
    assert content_hash({"x": 1, "y": {"q": 2, "p": 3}}) == content_hash(
        {"y": {"p": 3, "q": 2}, "x": 1}
    )


def test_hash_is_sha256_of_the_canonical_bytes() -> None:
    assert content_hash([1, "a"]) == hashlib.sha256(b'[1,"a"]').hexdigest()
    assert sha256_hex(b"") == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize("value", [{"a": object()}, float("nan"), float("inf"), {1, 2}, b"bytes"])
def test_non_json_is_a_payload_error(value: object) -> None:
    with pytest.raises(PayloadError) as info:
        canonical_json(value)
    assert isinstance(info.value, InvalidInputError)


def test_lone_surrogate_is_a_payload_error_not_a_unicode_crash() -> None:
    with pytest.raises(PayloadError, match="not JSON-serialisable"):
        canonical_json({"text": "\ud800"})
