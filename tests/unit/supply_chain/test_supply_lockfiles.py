"""Lockfile parsing: every supported format, and a clear error for every malformed one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_platform.errors import LockfileError
from agent_platform.supply_chain.lockfiles import (
    parse_lockfile,
    parse_package_lock,
    parse_requirements_lock,
    parse_uv_lock,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "supply_chain" / "lockfiles"


def test_requirements_lock_with_hashes_continuations_and_markers() -> None:
    packages = parse_lockfile(FIXTURES / "clean.requirements.lock", "python")
    assert [(p.name, p.version) for p in packages] == [
        ("certifi", "2024.8.30"),
        ("requests", "2.31.0"),
        ("urllib3", "2.2.3"),
    ]
    assert all(len(p.hashes) == 2 and p.hashes[0].startswith("sha256:") for p in packages)
    assert packages[2].marker == 'python_full_version >= "3.8"'
    assert packages[1].location.endswith(":7")


def test_requirements_lock_without_hashes_normalises_names() -> None:
    packages = parse_requirements_lock("PyYAML==6.0.2\nJinja2==3.1.4  # pinned\n\n")
    assert [(p.name, p.version, p.hashes) for p in packages] == [
        ("pyyaml", "6.0.2", ()),
        ("jinja2", "3.1.4", ()),
    ]


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("requests==2.31.0\nflask>=2.0\n", 2, "not pinned"),
        ("requests\n", 1, "not pinned"),
        ("ok==1.0\n\nnumpy==1.*\n", 3, "not pinned"),
        ("requests==2.31.0 \\\n    --hash=sha256:ab\nthis is not a requirement!\n", 3, "malformed"),
        ("-e .\n", 1, "not allowed"),
        ("-r other.txt\n", 1, "not allowed"),
        ("pkg @ https://example.invalid/pkg.whl\n", 1, "not pinned"),
    ],
)
def test_malformed_requirements_name_the_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(LockfileError) as caught:
        parse_requirements_lock(text, "reqs.lock")
    assert f"reqs.lock:{line}:" in str(caught.value)
    assert fragment in str(caught.value)


def test_uv_lock_skips_the_project_and_marks_non_registry_sources() -> None:
    packages = parse_lockfile(FIXTURES / "uv.lock", "python")
    by_name = {p.name: p for p in packages}
    assert set(by_name) == {"requests", "jinja2", "vendored-tool"}
    assert by_name["requests"].source == "registry"
    assert len(by_name["requests"].hashes) == 2
    assert by_name["vendored-tool"].source.startswith("git ")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('version = 1\n[[package]\nname = "x"\n', "not valid TOML"),
        ("version = 1\n", "key 'package'"),
        ('[[package]]\nname = "x"\nsource = { registry = "r" }\n', "package[0].version"),
        ('[[package]]\nversion = "1.0"\n', "package[0].name"),
        (
            '[[package]]\nname = "x"\nversion = "1"\nsource = { registry = "r" }\n'
            'sdist = { hash = "nohash" }\n',
            "algo:hex",
        ),
    ],
)
def test_malformed_uv_lock_names_the_key(text: str, fragment: str) -> None:
    with pytest.raises(LockfileError, match=r"uv\.lock") as caught:
        parse_uv_lock(text, "uv.lock")
    assert fragment in str(caught.value)


@pytest.mark.parametrize("version", [2, 3])
def test_package_lock_v2_and_v3(version: int) -> None:
    packages = parse_lockfile(FIXTURES / f"package-lock.v{version}.json", "node")
    names = sorted((p.name, p.version) for p in packages)
    if version == 3:
        # ms appears twice (top level and nested) at one version: listed once; links skipped
        assert names == [("@scope/util", "2.0.0"), ("left-pad", "1.3.0"), ("ms", "2.1.3")]
    else:
        assert names == [("lodash", "4.17.20"), ("ms", "2.1.3")]
    assert all(p.hashes and p.hashes[0].startswith("sha512-") for p in packages)


def test_package_lock_v1_is_refused_with_a_clear_error() -> None:
    with pytest.raises(LockfileError, match="lockfileVersion 1 is not supported"):
        parse_lockfile(FIXTURES / "package-lock.v1.json", "node")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"lockfileVersion": 3,\n "packages": {,}}', "package-lock.json:2: not valid JSON"),
        ('{"lockfileVersion": 3}', "key 'packages'"),
        (
            '{"lockfileVersion": 3, "packages": {"node_modules/a": {}}}',
            "packages['node_modules/a'].version",
        ),
        ('{"lockfileVersion": 3, "packages": {"node_modules/a": "1.0"}}', "not an object"),
        ("[1, 2]", "not a JSON object"),
    ],
)
def test_malformed_package_lock_names_the_key_or_line(text: str, fragment: str) -> None:
    with pytest.raises(LockfileError) as caught:
        parse_package_lock(text, "package-lock.json")
    assert fragment in str(caught.value)


def test_wrong_format_for_ecosystem_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LockfileError, match=r"ecosystem node needs a package-lock\.json"):
        parse_lockfile(FIXTURES / "uv.lock", "node")
    with pytest.raises(LockfileError, match="ecosystem python needs"):
        parse_lockfile(FIXTURES / "package-lock.v3.json", "python")
    with pytest.raises(LockfileError, match="not found"):
        parse_lockfile(tmp_path / "requirements.lock", "python")


def test_package_lock_marks_non_registry_sources() -> None:
    entries = {
        "node_modules/a": {
            "version": "1.0.0",
            "resolved": "https://registry.npmjs.org/a/-/a-1.0.0.tgz",
        },
        "node_modules/b": {
            "version": "1.0.0",
            "resolved": "https://codeload.github.com/x/b/tar.gz/abc",
        },
        "node_modules/c": {"version": "1.0.0", "resolved": "git+ssh://git@github.com/x/c.git#abc"},
        "node_modules/d": {"version": "1.0.0"},
    }
    text = json.dumps({"lockfileVersion": 3, "packages": {"": {}, **entries}})
    sources = {p.name: p.source for p in parse_package_lock(text)}
    assert sources == {
        "a": "registry",
        "b": "resolved https://codeload.github.com/x/b/tar.gz/abc",
        "c": "resolved git+ssh://git@github.com/x/c.git#abc",
        "d": "registry",
    }
