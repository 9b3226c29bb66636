"""Generated-code checks on the syntax tree: placeholders, stubs, calls, paths, secrets."""

from __future__ import annotations

import pytest

from agent_platform.orchestration.code_checks import (
    check_file_path,
    check_python_source,
    check_text_placeholders,
    check_text_secrets,
    credential_like,
)
from agent_platform.schemas.policy import load_agent_policy

POLICY = load_agent_policy()


def _rules(source: str) -> list[str]:
    return [f.rule for f in check_python_source(source, POLICY)]


def test_clean_code_has_no_findings():
    source = (
        "import re\n\n\ndef f(x: str) -> str:\n    try:\n        return re.sub('a', 'b', x)\n"
        "    except ValueError:\n        pass\n    return x\n"
    )
    assert _rules(source) == []


@pytest.mark.parametrize(
    "source",
    ["# TODO: finish\nX = 1\n", "X = 1  # FIXME\n", "def f():\n    return 'TBD'\n"],
)
def test_placeholder_markers_in_comments_and_strings(source):
    assert "placeholder_marker" in _rules(source)


def test_a_marker_inside_a_word_is_not_a_placeholder():
    assert _rules("TODOS = ['XXXL']\n") == []


@pytest.mark.parametrize(
    "body", ["pass", "...", "raise NotImplementedError", "'''doc'''\n    pass"]
)
def test_stub_bodies(body):
    assert "stub_body" in _rules(f"def f():\n    {body}\n")


def test_protocol_and_overload_stubs_are_allowed():
    source = (
        "from typing import Protocol, overload\n\n\nclass P(Protocol):\n    def m(self) -> int: ...\n"
        "\n\n@overload\ndef g(x: int) -> int: ...\n"
    )
    assert _rules(source) == []


@pytest.mark.parametrize(
    "source",
    [
        "import subprocess as sp\n",
        "from os import system\nsystem('id')\n",
        "import os\nos.execv('/bin/sh', [])\n",
        "import socket\n",
        "eval('1')\n",
        "exec('x = 1')\n",
        "__import__('os')\n",
    ],
)
def test_forbidden_calls_and_imports(source):
    assert "forbidden_call" in _rules(source)


def test_re_compile_is_not_the_builtin_compile():
    assert _rules("import re\nPATTERN = re.compile('a')\n") == []


@pytest.mark.parametrize(
    "source",
    ["open('/etc/passwd', 'w')\n", "open('../x', 'w')\n", "Path('/tmp/x').write_text('a')\n"],
)
def test_writes_outside_the_workspace(source):
    assert "write_outside_workspace" in _rules(source)


@pytest.mark.parametrize("path", ["/abs.py", "../up.py", "a/../../b.py", "C:\\x.py", "~/x.py", ""])
def test_file_paths_must_stay_inside(path):
    assert check_file_path(path) is not None


def test_relative_paths_are_fine():
    assert check_file_path("pkg/tests/test_x.py") is None


def test_secret_formats_and_high_entropy_assignments():
    assert [f.detail for f in check_text_secrets("k = 'AKIAIOSFODNN7EXAMPLE'", POLICY)] == [
        "aws_access_key_id literal"
    ]
    assert "hardcoded_secret" in _rules("SERVICE_TOKEN = 'q8Zr3LmX9vT2pK7wN4bY'\n")
    assert _rules("SERVICE_TOKEN = 'aaaaaaaaaaaaaaaaaaaa'\n") == []
    pem = check_text_secrets("K = '-----BEGIN RSA PRIVATE KEY-----'\n", POLICY)
    assert [f.detail for f in pem] == ["private_key_block literal"]


def test_a_syntax_error_is_a_finding():
    assert _rules("def f(:\n") == ["syntax_error"]


# Fixes found by the guard corpus (agent_platform/evidence/workloads/guard_corpus/): each
# source below was a violation the guard missed, or a clean change it flagged.


@pytest.mark.parametrize(
    "source",
    [
        "import os\n\nrun = getattr(os, 'system')\n",
        "import os as o\n\ngetattr(o, 'popen')('ls')\n",
        "import asyncio\n\nasyncio.create_subprocess_shell('ls')\n",
        "from asyncio import create_subprocess_exec\n",
    ],
)
def test_getattr_with_a_constant_name_and_asyncio_subprocesses_are_forbidden_calls(source):
    assert "forbidden_call" in _rules(source)


def test_getattr_with_a_computed_name_or_a_harmless_attribute_is_not_a_finding():
    assert _rules("import os\n\ndef f(name):\n    return getattr(os, name)\n") == []
    assert _rules("import os\n\nSEP = getattr(os, 'sep')\n") == []


@pytest.mark.parametrize(
    "source",
    [
        "SETTINGS = {'region': 'eu', 'api_key': 'Zq8vN3xK7pL2mR9tW4yB'}\n",
        "connect(host='db', password='hT9kq2Lz8wP4xVb7')\n",
        "apikey = 'Zq8vN3xK7pL2mR9tW4yB'\n",
        "db_pwd = 'hT9kq2Lz8wP4xVb7'\n",
    ],
)
def test_secrets_in_dict_literals_keywords_and_short_key_names(source):
    assert _rules(source) == ["hardcoded_secret"]


def test_identifier_like_values_of_key_names_are_not_secrets():
    source = (
        "cache_key = 'user:profile:v1:summary'\n"
        "sort_key = 'created_at_descending_order'\n"
        "OPTIONS = {'token_type': 'bearer_with_refresh_rotation'}\n"
    )
    assert _rules(source) == []
    assert credential_like("hT9kq2Lz8wP4xVb7", 16)
    assert not credential_like("created_at_descending_order", 16)
    assert not credential_like("abcdefghijklmnopqrstu", 16)  # letters only: a word, not a key


@pytest.mark.parametrize(
    "source",
    [
        "from pathlib import Path\n\n(Path('/etc') / 'cron.d' / 'job').write_text('x')\n",
        "open(file='../../outside.log', mode='a')\n",
        "import pathlib\n\npathlib.Path('../up').mkdir()\n",
    ],
)
def test_path_joins_and_keyword_files_outside_the_workspace(source):
    assert "write_outside_workspace" in _rules(source)


def test_relative_path_joins_and_computed_paths_are_fine():
    source = (
        "from pathlib import Path\n\n"
        "def f(folder):\n"
        "    (Path('out') / 'rows.txt').write_text('x')\n"
        "    (Path(folder) / '..' / 'x').write_text('y')\n"
    )
    assert _rules(source) == []


def test_markers_in_non_python_files_are_found_line_by_line():
    script = "#!/bin/sh\nset -eu\n# FIXME: sign it\ncp a b\n"
    assert [(f.rule, f.line) for f in check_text_placeholders(script, POLICY)] == [
        ("placeholder_marker", 3)
    ]
    assert check_text_placeholders("Sizes from S to XXXL.\n", POLICY) == []
