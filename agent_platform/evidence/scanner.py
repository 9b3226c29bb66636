"""The forbidden-pattern scanner: placeholder markers in prose, stub bodies on the syntax tree.

One scanner serves the gate (``forbidden_patterns_found``) and the validator, so the two
counts can only agree. For Python files, markers are looked for in comments and docstrings
(prose), not in string data (a guard that detects markers in generated code must be able to
name them); stubs are found on the AST: a function whose body is only ``pass``, only ``...``
or only a docstring, and any ``raise NotImplementedError``. A ``pass`` inside an ``except``
is not a function body and is never flagged. Protocol methods and ``@overload`` signatures
are excepted. Other text files, and files without a suffix (``Makefile``, ``.ci/run``), are
scanned line by line for markers and phrases.
"""

from __future__ import annotations

import ast
import fnmatch
import io
import re
import tokenize
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent_platform.evidence.contract_model import ForbiddenPatterns

__all__ = ["Finding", "expand_globs", "scan", "scan_text"]

_TEXT_SUFFIXES = frozenset({".md", ".txt", ".csv", ".json"})
_COMMENTED_SUFFIXES = frozenset({".yaml", ".yml", ".toml", ".cfg", ".ini", ".sh"})
_HASH_COMMENT = re.compile(r"(?:^|\s)#(.*)$")


@dataclass(frozen=True)
class Finding:
    """One forbidden pattern at one place."""

    path: str
    line: int
    kind: str
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "kind": self.kind, "detail": self.detail}


class _Rules:
    def __init__(self, patterns: ForbiddenPatterns) -> None:
        words = "|".join(re.escape(m) for m in patterns.markers)
        self.marker = re.compile(rf"(?<![A-Za-z0-9_])({words})(?![A-Za-z0-9_])") if words else None
        self.phrases = [p.lower() for p in patterns.placeholder_phrases]
        self.stubs = patterns.stub_bodies

    def prose(self, rel: str, line: int, text: str) -> list[Finding]:
        found: list[Finding] = []
        if self.marker is not None:
            found.extend(
                Finding(rel, line, "marker", m.group(1)) for m in self.marker.finditer(text)
            )
        lowered = text.lower()
        found.extend(Finding(rel, line, "placeholder", p) for p in self.phrases if p in lowered)
        return found


def expand_globs(root: Path, include: Sequence[str], exclude: Sequence[str]) -> list[Path]:
    """Files under ``root`` matching any of ``include`` and none of ``exclude``."""
    seen: dict[str, Path] = {}
    for pattern in include:
        for path in sorted(root.glob(pattern)):
            rel = path.relative_to(root).as_posix()
            if path.is_file() and not any(fnmatch.fnmatch(rel, ex) for ex in exclude):
                seen[rel] = path
    return [seen[rel] for rel in sorted(seen)]


def scan(root: Path, patterns: ForbiddenPatterns, extra: Iterable[str] = ()) -> list[Finding]:
    """Scan the contract's scan globs plus ``extra`` relative paths; findings sorted by place."""
    rules = _Rules(patterns)
    files = {
        p.relative_to(root).as_posix(): p
        for p in expand_globs(root, patterns.scan, patterns.exclude)
    }
    for rel in extra:
        path = root / rel
        if path.is_file() and not any(fnmatch.fnmatch(rel, ex) for ex in patterns.exclude):
            files[rel] = path
    findings: list[Finding] = []
    for rel in sorted(files):
        findings.extend(_scan_file(rules, rel, files[rel]))
    return findings


def scan_text(rel: str, text: str, patterns: ForbiddenPatterns) -> list[Finding]:
    """Scan one file's content given as text; the suffix of ``rel`` decides how."""
    return _scan_content(_Rules(patterns), rel, text)


def _scan_content(rules: _Rules, rel: str, text: str) -> list[Finding]:
    suffix = Path(rel).suffix
    if suffix == ".py":
        return _scan_python(rules, rel, text)
    if suffix in _COMMENTED_SUFFIXES:
        # Config files: values are data (a policy may list the markers it forbids), comments
        # are prose.
        found: list[Finding] = []
        for number, line in enumerate(text.splitlines(), 1):
            comment = _HASH_COMMENT.search(line)
            if comment is not None:
                found.extend(rules.prose(rel, number, comment.group(1)))
        return found
    return [f for n, line in enumerate(text.splitlines(), 1) for f in rules.prose(rel, n, line)]


def _scan_file(rules: _Rules, rel: str, path: Path) -> list[Finding]:
    known = {".py", ""} | _TEXT_SUFFIXES | _COMMENTED_SUFFIXES
    if path.suffix not in known:
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return [Finding(rel, 0, "unreadable", "not readable as UTF-8 text")]
    return _scan_content(rules, rel, text)


def _scan_python(rules: _Rules, rel: str, text: str) -> list[Finding]:
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        return [Finding(rel, exc.lineno or 0, "syntax_error", str(exc.msg))]
    findings = _comment_findings(rules, rel, text)
    for node in ast.walk(tree):
        doc = _docstring_node(node)
        if doc is not None and isinstance(doc.value, ast.Constant):
            for offset, line in enumerate(str(doc.value.value).splitlines()):
                findings.extend(rules.prose(rel, doc.lineno + offset, line))
    if rules.stubs:
        findings.extend(_stub_findings(rel, tree))
    return sorted(findings, key=lambda f: (f.line, f.kind, f.detail))


def _comment_findings(rules: _Rules, rel: str, text: str) -> list[Finding]:
    found: list[Finding] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                found.extend(rules.prose(rel, token.start[0], token.string))
    except (tokenize.TokenError, SyntaxError):
        return found
    return found


def _docstring_node(node: ast.AST) -> ast.Expr | None:
    if not isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
        return None
    body = node.body
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        return first if isinstance(first.value.value, str) else None
    return None


def _stub_findings(rel: str, tree: ast.Module) -> list[Finding]:
    findings: list[Finding] = []
    exempt = _exempt_functions(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and id(node) not in exempt:
            kind = _stub_kind(node)
            if kind:
                findings.append(Finding(rel, node.lineno, "stub", f"{node.name}: {kind}"))
        if isinstance(node, ast.Raise) and _is_not_implemented(node.exc):
            findings.append(
                Finding(rel, node.lineno, "not_implemented", "raise NotImplementedError")
            )
    return findings


def _exempt_functions(tree: ast.Module) -> set[int]:
    exempt: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(_name(b) == "Protocol" for b in node.bases):
            exempt.update(
                id(item)
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            )
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
            _name(d) == "overload" for d in node.decorator_list
        ):
            exempt.add(id(node))
    return exempt


def _stub_kind(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    body = list(node.body)
    if body and _docstring_node(node) is not None:
        body = body[1:]
    if not body:
        return "docstring-only body"
    if len(body) != 1:
        return None
    only = body[0]
    if isinstance(only, ast.Pass):
        return "pass-only body"
    if (
        isinstance(only, ast.Expr)
        and isinstance(only.value, ast.Constant)
        and only.value.value is Ellipsis
    ):
        return "ellipsis-only body"
    return None


def _is_not_implemented(exc: ast.expr | None) -> bool:
    target = exc.func if isinstance(exc, ast.Call) else exc
    return _name(target) == "NotImplementedError"


def _name(node: ast.expr | None) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):
        return _name(node.value)
    if isinstance(node, ast.Call):
        return _name(node.func)
    return ""
