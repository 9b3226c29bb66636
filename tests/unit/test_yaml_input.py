"""The bounded YAML loader: every hostile document is refused while composing, on both parsers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent_platform.config import checkout_root, parse_yaml_text
from agent_platform.errors import ConfigError
from agent_platform.yaml_input import (
    LOADERS,
    MAX_DEPTH,
    MAX_EXPANDED_NODES,
    YAMLRefused,
    parse_yaml,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(params=sorted(LOADERS))
def loader(request: pytest.FixtureRequest) -> str:
    """Each test runs on libyaml's parser (the default) and on PyYAML's pure-Python one."""
    return str(request.param)


def _laughs(levels: int) -> str:
    """The "billion laughs": each level lists the previous one ten times."""
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels + 1):
        refs = ", ".join([f"*l{level - 1}"] * 10)
        lines.append(f"l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_libyaml_is_used_when_present() -> None:
    assert "python" in LOADERS
    assert ("libyaml" in LOADERS) == yaml.__with_libyaml__


def test_every_yaml_file_of_the_checkout_reads_as_safe_load_reads_it(loader: str) -> None:
    root = checkout_root()
    files = [
        p
        for pattern in ("configs/**/*.yaml", "policies/*.yaml", "tests/fixtures/**/*.yaml")
        for p in root.glob(pattern)
    ]
    assert len(files) >= 10
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert parse_yaml(text, loader) == yaml.safe_load(text), path


def test_aliases_written_by_safe_dump_and_merge_keys_still_load(loader: str) -> None:
    shared = {"name": "a", "url": "https://example.test/x"}
    text = yaml.safe_dump({"destinations": [shared, shared]})
    assert "&id001" in text and "*id001" in text
    assert parse_yaml(text, loader) == {"destinations": [shared, shared]}
    merged = "base: &b {x: 1, y: 2}\nchild:\n  <<: *b\n  y: 3\n"
    assert parse_yaml(merged, loader)["child"] == {"x": 1, "y": 3}


def test_billion_laughs_is_refused_at_the_alias_that_crosses_the_budget(loader: str) -> None:
    with pytest.raises(YAMLRefused) as info:
        parse_yaml(_laughs(9), loader)
    assert f"at most {MAX_EXPANDED_NODES:,} nodes" in info.value.allowed
    assert info.value.line <= 10
    assert parse_yaml(_laughs(3), loader)["l3"][0][0][0][0] == "lol"  # 10^4 nodes: fine


def test_recursive_alias_is_refused(loader: str) -> None:
    with pytest.raises(YAMLRefused, match="alias to a finished node") as info:
        parse_yaml("a: &a [1, *a]\n", loader)
    assert (info.value.key, info.value.line) == ("a", 1)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 200_000,
        "{a: " * 200_000,
        "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5)) + "  " * 70 + "v: 1\n",
        "".join("  " * i + "-\n" for i in range(MAX_DEPTH + 5)),
    ],
    ids=["flow-sequences", "flow-mappings", "block-mappings", "block-sequences"],
)
def test_deep_nesting_is_refused_before_recursion(loader: str, text: str) -> None:
    with pytest.raises(yaml.YAMLError) as info:
        parse_yaml(text, loader)
    if isinstance(info.value, YAMLRefused):
        assert info.value.allowed == f"at most {MAX_DEPTH} nested levels"
    else:  # libyaml's own depth guard met the 200,000 flow brackets first
        assert "depth" in str(info.value)


def test_nesting_up_to_the_limit_loads(loader: str) -> None:
    text = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    value = parse_yaml(text, loader)
    for _ in range(MAX_DEPTH - 2):
        value = value[0]
    assert value == []


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ("weights:\n  cost: 1\n  latency: 2\n  cost: 3\n", "weights.cost", 4),
        ("a:\n  - {x: 1, x: 2}\n", "a.0.x", 2),
        ("codes:\n  1: one\n  0x1: also one\n", "codes.1", 3),
        ("top: 1\ntop: 2\n", "top", 2),
    ],
)
def test_duplicate_keys_are_refused_naming_the_key(
    loader: str, text: str, key: str, line: int
) -> None:
    with pytest.raises(YAMLRefused, match="each key once per mapping") as info:
        parse_yaml(text, loader)
    assert (info.value.key, info.value.line) == (key, line)


def test_lone_surrogates_never_reach_a_string(loader: str) -> None:
    for text in ('title: "\\ud800"\n', '"\\udc80": 1\n', 'a: ["ok", "\\uDFFF"]\n'):
        with pytest.raises(yaml.YAMLError):
            parse_yaml(text, loader)
    assert parse_yaml('title: "\\u00fc \\U0001F600"\n', loader) == {"title": "ü 😀"}


def test_the_python_loader_names_the_surrogate() -> None:
    with pytest.raises(YAMLRefused, match="lone surrogates") as info:
        parse_yaml('title: "\\ud800"\n', "python")
    assert "\\\\ud800" in info.value.value


@pytest.mark.parametrize(
    ("text", "allowed"),
    [("when: 2024-02-30\n", "a real date"), ("n: " + "7" * 5000 + "\n", "at most 4,300 digits")],
)
def test_scalars_python_cannot_build_are_refused(loader: str, text: str, allowed: str) -> None:
    with pytest.raises(YAMLRefused, match=allowed) as info:
        parse_yaml(text, loader)
    assert len(info.value.value) <= 80


def test_parse_yaml_text_turns_every_refusal_into_one_config_error_line(loader: str) -> None:
    cases = {
        "top: 1\ntop: 2\n": "top (line 2): got 'top'; allowed: each key once per mapping",
        "a: [unclosed\n": "line 2: got ",
        "a:\n\tb: 1\n": "line 2: got ",
        "a: b\x00\n": "line 1: got ",
        _laughs(9): "nodes with aliases expanded",
    }
    for text, expected in cases.items():
        with pytest.raises(ConfigError) as info:
            parse_yaml_text(text, "cfg.yaml")
        message = str(info.value)
        assert message.startswith("cfg.yaml: ") and "\n" not in message
        assert expected in message and len(message) < 400


def test_a_huge_scalar_is_clipped_in_the_message(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse_yaml_text("n: " + "9" * 100_000 + "\n", "big.yaml")
    assert len(str(info.value)) < 300
