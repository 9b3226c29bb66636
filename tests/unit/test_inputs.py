"""Bounded reading of input files: every hostile file is one InputFileError line."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from agent_platform.errors import InputFileError, InvalidInputError
from agent_platform.inputs import (
    JSON_MAX_DEPTH,
    DuplicateKeyError,
    clip,
    json_depth,
    read_text_bounded,
    shorten,
    unique_object,
)


def test_reads_a_regular_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("name: ü\n", encoding="utf-8")
    assert read_text_bounded(path, what="config file") == "name: ü\n"


def test_missing_file_says_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(InputFileError) as info:
        read_text_bounded(tmp_path / "nope.yaml", what="scenario file")
    assert str(info.value) == f"file not found: {tmp_path / 'nope.yaml'} (scenario file)"
    assert isinstance(info.value, InvalidInputError)


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda p: Path("/dev/zero"), "a device"),
        (lambda p: p, "a directory"),
        (lambda p: (os.mkfifo(p / "fifo"), p / "fifo")[1], "a pipe"),
    ],
)
def test_special_files_are_refused_at_once(tmp_path: Path, make, kind: str) -> None:
    with pytest.raises(InputFileError, match=f"must be a regular file, not {kind}"):
        read_text_bounded(make(tmp_path), what="config file")


def test_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    try:
        with pytest.raises(InputFileError, match="must be a regular file, not a socket"):
            read_text_bounded(path, what="lockfile")
    finally:
        server.close()


def test_oversized_file_names_size_and_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"x" * 2048)
    with pytest.raises(InputFileError, match="2,048 bytes; allowed: at most 1,024"):
        read_text_bounded(path, limit_bytes=1024, what="lockfile")


def test_non_utf8_names_the_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(InputFileError, match=r"not UTF-8 \(byte 9"):
        read_text_bounded(path, what="config file")


def test_clip_never_renders_a_huge_value() -> None:
    shown = clip("x" * 10_000_000)
    assert len(shown) == 80 and shown.endswith("...")
    assert clip("short") == "'short'"


def test_clip_bounds_containers_and_unprintable_integers() -> None:
    nested = {"a": ["b" * 1_000_000] * 100_000, "c": list(range(10_000))}
    shown = clip(nested)
    assert len(shown) == 80 and shown.startswith("{'a': ['bbbb")
    assert clip(10**5000) == "<int too large to show>"
    assert clip([1, 2]) == "[1, 2]" and clip(-5) == "-5"


def test_shorten_keeps_one_line() -> None:
    assert shorten("connection failed:\n\tIs the server running?") == (
        "connection failed: Is the server running?"
    )
    cut = shorten("word " * 10_000, 50)
    assert len(cut) == 50 and cut.endswith("...")


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("{}", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('{"a": "[[[[[[ {{{{ \\" [[["}', 1),
        ("[" * 100 + "]" * 100, JSON_MAX_DEPTH + 1),
        ("1", 0),
    ],
)
def test_json_depth_ignores_brackets_in_strings(text: str, depth: int) -> None:
    assert json_depth(text) == depth


def test_json_depth_of_a_megabyte_of_brackets_stops_early() -> None:
    assert json_depth("[" * 4_000_000) == JSON_MAX_DEPTH + 1


def test_unique_object_refuses_a_repeated_key() -> None:
    assert json.loads('{"a": 1, "b": {"a": 2}}', object_pairs_hook=unique_object)["b"] == {"a": 2}
    with pytest.raises(DuplicateKeyError) as info:
        json.loads('{"a": 1, "a": 2}', object_pairs_hook=unique_object)
    assert info.value.key == "a" and isinstance(info.value, ValueError)
