"""Lockfile parsing: every supported format, and a clear error for every malformed one."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agent_platform.errors import InputFileError, LockfileError
from agent_platform.supply_chain.lockfiles import (
    parse_lockfile,
    parse_package_lock,
    parse_requirements_lock,
    parse_uv_lock,
    read_lockfile,
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
    with pytest.raises(InputFileError, match=r"file not found: .*requirements\.lock \(lockfile\)"):
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


PIN = "requests==2.31.0 --hash=sha256:" + "ab" * 32 + "\n"


@pytest.mark.parametrize(
    ("line", "option", "value"),
    [
        (
            "--index-url https://mirror.example/simple",
            "--index-url",
            "https://mirror.example/simple",
        ),
        (
            "--index-url=https://mirror.example/simple",
            "--index-url",
            "https://mirror.example/simple",
        ),
        ("-i https://mirror.example/simple", "--index-url", "https://mirror.example/simple"),
        ("-ihttps://mirror.example/simple", "--index-url", "https://mirror.example/simple"),
        (
            "--extra-index-url https://evil.example/simple",
            "--extra-index-url",
            "https://evil.example/simple",
        ),
        ("--find-links ./wheels", "--find-links", "./wheels"),
        ("-f https://evil.example/wheels/", "--find-links", "https://evil.example/wheels/"),
        ("--trusted-host evil.example", "--trusted-host", "evil.example"),
    ],
)
def test_index_options_are_reported_with_their_line_not_skipped(
    tmp_path: Path, line: str, option: str, value: str
) -> None:
    path = tmp_path / "requirements.lock"
    path.write_text("# pinned\n" + PIN + line + "\n")
    parsed = read_lockfile(path, "python")
    assert [p.name for p in parsed.packages] == ["requests"]
    (issue,) = parsed.issues
    assert (issue.kind, issue.option, issue.value) == ("index_override", option, value)
    assert issue.location == f"{path}:3" and issue.message.startswith(f"{path}:3: {option} ")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("requirements.lock", ""),
        ("requirements.lock", "# only a comment\n\n   # and another\n"),
        ("uv.lock", '[[package]]\nname = "app"\nversion = "0.1.0"\nsource = { editable = "." }\n'),
        ("package-lock.json", '{"lockfileVersion": 3, "packages": {"": {"name": "app"}}}'),
    ],
    ids=["empty", "comments-only", "uv-root-only", "npm-root-only"],
)
def test_a_lockfile_pinning_nothing_is_an_issue(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    parsed = read_lockfile(path, "node" if name.endswith(".json") else "python")
    assert parsed.packages == ()
    (issue,) = parsed.issues
    assert issue.kind == "empty_lockfile" and "pins no package" in issue.message


def test_lockfiles_are_read_bounded_regular_and_utf8(tmp_path: Path) -> None:
    folder = tmp_path / "requirements.lock"
    folder.mkdir()
    with pytest.raises(InputFileError, match="must be a regular file, not a directory"):
        read_lockfile(folder, "python")
    fifo = tmp_path / "fifo" / "requirements.lock"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    with pytest.raises(InputFileError, match="not a pipe"):
        read_lockfile(fifo, "python")
    latin = tmp_path / "latin" / "requirements.lock"
    latin.parent.mkdir()
    latin.write_bytes(b"caf\xe9==1.0\n")
    with pytest.raises(InputFileError, match=r"not UTF-8 \(byte 3"):
        read_lockfile(latin, "python")
    big = tmp_path / "big" / "requirements.lock"
    big.parent.mkdir()
    big.write_text(PIN * 10)
    with pytest.raises(InputFileError, match="lockfile is 960 bytes; allowed: at most 100"):
        read_lockfile(big, "python", limit_bytes=100)


def test_errors_clip_huge_values() -> None:
    huge = "x" * 200_000
    for text in (f"{huge}>=1\n", f"pkg @ https://{huge}\n"):
        with pytest.raises(LockfileError) as caught:
            parse_requirements_lock(text, "reqs.lock")
        assert len(str(caught.value)) < 400 and "..." in str(caught.value)
    with pytest.raises(LockfileError) as caught:
        parse_uv_lock(f'[[package]]\nname = "{huge}"\nsource = {{ registry = "r" }}\n')
    assert len(str(caught.value)) < 400


def test_uv_lock_reports_every_non_registry_source_but_the_project_root() -> None:
    text = """
[[package]]
name = "app"
version = "0.1.0"
source = { virtual = "." }

[[package]]
name = "member"
version = "0.2.0"
source = { editable = "packages/member" }

[[package]]
name = "from-git"
version = "1.0.0"
source = { git = "https://example.invalid/x.git?rev=abc#abc" }

[[package]]
name = "from-path"
version = "1.0.0"
source = { path = "vendor/from_path-1.0.0-py3-none-any.whl" }

[[package]]
name = "from-dir"
version = "1.0.0"
source = { directory = "../sibling" }

[[package]]
name = "from-url"
version = "1.0.0"
source = { url = "https://example.invalid/from_url-1.0.0.tar.gz" }

[[package]]
name = "requests"
version = "2.31.0"
source = { registry = "https://mirror.example/simple" }
"""
    sources = {p.name: (p.source, p.index) for p in parse_uv_lock(text)}
    assert sources == {
        "member": ("editable packages/member", ""),
        "from-git": ("git https://example.invalid/x.git?rev=abc#abc", ""),
        "from-path": ("path vendor/from_path-1.0.0-py3-none-any.whl", ""),
        "from-dir": ("directory ../sibling", ""),
        "from-url": ("url https://example.invalid/from_url-1.0.0.tar.gz", ""),
        "requests": ("registry", "https://mirror.example/simple"),
    }
