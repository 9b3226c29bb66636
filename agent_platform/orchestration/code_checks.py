"""Checks on generated source code, done on its syntax tree and token stream, not by regex.

Placeholders in comments come from :mod:`tokenize` (a ``#`` inside a string is not a comment),
stub bodies and forbidden calls from :mod:`ast` with import aliases resolved (``import
subprocess as sp; sp.run()`` is ``subprocess.run``). Regexes are used only where the thing
looked for is a token format (credentials).
"""

from __future__ import annotations

import ast
import io
import math
import re
import tokenize
from collections import Counter
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

from agent_platform.schemas.policy import AgentPolicy

__all__ = [
    "Finding",
    "check_file_path",
    "check_python_source",
    "check_text_placeholders",
    "check_text_secrets",
    "credential_like",
]

_STUB_DECORATORS = {"overload", "abstractmethod", "abc.abstractmethod", "typing.overload"}
_PATH_WRITERS = {"write_text", "write_bytes", "open", "mkdir", "touch", "unlink", "rmdir"}
_OPENERS = ("open", "io.open", "builtins.open")
_GETATTR = ("getattr", "builtins.getattr")
# Characters that split an identifier-like value into words ("user:profile:v1", "sort_key").
_WORD_SEPARATORS = re.compile(r"[\s:/._,\-]+")


@dataclass(frozen=True)
class Finding:
    """One problem in one file."""

    rule: str
    detail: str
    line: int | None = None


def check_file_path(path: str) -> Finding | None:
    """A generated file path must stay inside the task workspace."""
    if not path or "\x00" in path:
        return Finding("write_outside_workspace", f"invalid file path {path!r}")
    posix, windows = PurePosixPath(path), PureWindowsPath(path)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or path.startswith("~"):
        return Finding("write_outside_workspace", f"absolute file path {path!r}")
    if ".." in posix.parts or ".." in windows.parts:
        return Finding("write_outside_workspace", f"file path {path!r} climbs out with '..'")
    return None


def check_text_secrets(text: str, policy: AgentPolicy) -> list[Finding]:
    """Credential formats (API keys, private keys, tokens) anywhere in ``text``."""
    findings = []
    for pattern in policy.secrets.patterns:
        match = re.search(pattern.regex, text)
        if match:
            line = text.count("\n", 0, match.start()) + 1
            findings.append(Finding("hardcoded_secret", f"{pattern.name} literal", line))
    return findings


def check_text_placeholders(text: str, policy: AgentPolicy) -> list[Finding]:
    """Placeholder markers anywhere in a non-Python file (a shell script, a config, a README).

    Such files have no syntax tree to separate prose from data, so every line counts.
    """
    regex = _marker_regex(policy)
    findings = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = regex.search(line)
        if match is not None:
            findings.append(Finding("placeholder_marker", f"marker {match.group(0)!r}", number))
    return findings


def credential_like(text: str, min_length: int) -> bool:
    """Whether a literal looks generated rather than written: a run of at least ``min_length``
    characters without whitespace or word separators, mixing letters and digits.

    Values assigned to key-like names are often identifiers (``"user:profile:v1"``,
    ``"created_at_descending_order"``) whose entropy alone looks random; words split on
    separators are what tells them apart from a key.
    """
    for run in _WORD_SEPARATORS.split(text):
        if (
            len(run) >= min_length
            and any(c.isdigit() for c in run)
            and any(c.isalpha() for c in run)
        ):
            return True
    return False


def check_python_source(source: str, policy: AgentPolicy) -> list[Finding]:
    """Every policy finding in one Python file (a syntax error is itself a finding)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return [Finding("syntax_error", str(exc.msg), exc.lineno)]
    findings = _comment_placeholders(source, policy)
    visitor = _Visitor(policy)
    visitor.visit(tree)
    findings.extend(visitor.findings)
    return sorted(findings, key=lambda f: (f.line or 0, f.rule))


def _marker_regex(policy: AgentPolicy) -> re.Pattern[str]:
    words = "|".join(re.escape(m) for m in policy.placeholder_markers)
    return re.compile(rf"(?<![A-Za-z0-9_])(?:{words})(?![A-Za-z0-9_])")


def _comment_placeholders(source: str, policy: AgentPolicy) -> list[Finding]:
    regex = _marker_regex(policy)
    findings = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT and regex.search(token.string):
                findings.append(
                    Finding(
                        "placeholder_marker", f"comment {token.string.strip()!r}", token.start[0]
                    )
                )
    except (tokenize.TokenError, IndentationError) as exc:
        findings.append(Finding("syntax_error", f"tokenize: {exc}"))
    return findings


def _entropy(value: str) -> float:
    counts = Counter(value)
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


class _Visitor(ast.NodeVisitor):
    """Collects stub bodies, forbidden calls/imports, risky paths and secret assignments."""

    def __init__(self, policy: AgentPolicy) -> None:
        self.policy = policy
        self.findings: list[Finding] = []
        self.aliases: dict[str, str] = {}
        self.protocol_depth = 0
        self.markers = _marker_regex(policy)
        self.sensitive = re.compile(policy.secrets.sensitive_name_regex)

    def _add(self, rule: str, detail: str, node: ast.AST) -> None:
        self.findings.append(Finding(rule, detail, getattr(node, "lineno", None)))

    # imports -------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.aliases[(alias.asname or alias.name).split(".")[0]] = (
                alias.name if alias.asname else alias.name.split(".")[0]
            )
            self._check_name(alias.name, node, kind="import")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        for alias in node.names:
            full = f"{module}.{alias.name}" if module else alias.name
            self.aliases[alias.asname or alias.name] = full
            self._check_name(full, node, kind="import")

    def _resolve(self, dotted: str) -> str:
        head, _, rest = dotted.partition(".")
        base = self.aliases.get(head, head)
        return f"{base}.{rest}" if rest else base

    def _check_name(self, name: str, node: ast.AST, *, kind: str) -> None:
        if name in self.policy.calls.allowed:
            return
        for rule in self.policy.calls.forbidden:
            if _matches(rule, name):
                self._add("forbidden_call", f"{kind} of {name} (policy: {rule})", node)
                return

    # calls and paths -----------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        dotted = _dotted(node.func)
        if dotted is not None:
            resolved = self._resolve(dotted)
            self._check_name(resolved, node, kind="call")
            if resolved in _OPENERS:
                self._check_path_arg(_file_argument(node), node)
            if resolved in _GETATTR:
                self._check_getattr(node)
        if isinstance(node.func, ast.Attribute) and node.func.attr in _PATH_WRITERS:
            self._check_path_arg(node.func.value, node)
        for keyword in node.keywords:
            if keyword.arg is not None:
                self._check_secret(keyword.arg, keyword.value, node)
        self.generic_visit(node)

    def _check_getattr(self, node: ast.Call) -> None:
        """``getattr(os, "system")`` is ``os.system``: the attribute is named by a constant."""
        if len(node.args) < 2:
            return
        owner, attr = _dotted(node.args[0]), node.args[1]
        if owner and isinstance(attr, ast.Constant) and isinstance(attr.value, str):
            self._check_name(f"{self._resolve(owner)}.{attr.value}", node, kind="call")

    def _check_path_arg(self, arg: ast.expr | None, node: ast.AST) -> None:
        path = self._constant_path(arg)
        if path is not None:
            finding = check_file_path(path)
            if finding is not None:
                self._add(finding.rule, f"file access to {path!r}", node)

    def _constant_path(self, expr: ast.expr | None) -> str | None:
        """The path a constant expression names: a string, ``Path("...")`` or a ``/`` join of
        those (``Path("/etc") / "cron.d"``); None when any part is computed at run time."""
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return expr.value
        if isinstance(expr, ast.Call) and expr.args:
            name = _dotted(expr.func)
            if name is not None and self._resolve(name) in ("Path", "pathlib.Path"):
                return self._constant_path(expr.args[0])
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Div):
            left, right = self._constant_path(expr.left), self._constant_path(expr.right)
            if left is not None and right is not None:
                return f"{left.rstrip('/')}/{right}" if left else right
        return None

    # placeholders and secrets in literals --------------------------------------------------
    def visit_Constant(self, node: ast.Constant) -> None:
        if (
            self.policy.placeholders_in_string_literals
            and isinstance(node.value, str)
            and self.markers.search(node.value)
        ):
            self._add("placeholder_marker", f"string literal {node.value[:60]!r}", node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._check_secret((_dotted(target) or "").rsplit(".", 1)[-1], node.value, node)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            name = (_dotted(node.target) or "").rsplit(".", 1)[-1]
            self._check_secret(name, node.value, node)
        self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        """``{"api_key": "..."}`` names the value as surely as ``api_key = "..."`` does."""
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                self._check_secret(key.value, value, node)
        self.generic_visit(node)

    def _check_secret(self, name: str, value: ast.expr, node: ast.AST) -> None:
        """A generated-looking literal bound to a key-like name (variable, dict key, keyword)."""
        if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
            return
        text = value.value
        policy = self.policy.secrets
        if (
            self.sensitive.search(name)
            and len(text) >= policy.min_length
            and _entropy(text) >= policy.min_entropy_bits_per_char
            and credential_like(text, policy.min_length)
        ):
            self._add("hardcoded_secret", f"high-entropy literal assigned to {name}", node)

    # stubs ---------------------------------------------------------------------------------
    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        is_protocol = any((_dotted(b) or "").endswith("Protocol") for b in node.bases)
        self.protocol_depth += int(is_protocol)
        self.generic_visit(node)
        self.protocol_depth -= int(is_protocol)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._check_stub(node)
        self.generic_visit(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._check_stub(node)
        self.generic_visit(node)

    def visit_Raise(self, node: ast.Raise) -> None:
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if exc is not None and _dotted(exc) == "NotImplementedError":
            self._add("stub_body", "raises NotImplementedError", node)
        self.generic_visit(node)

    def _check_stub(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        decorators = {
            _dotted(d.func if isinstance(d, ast.Call) else d) for d in node.decorator_list
        }
        if self.protocol_depth or decorators & _STUB_DECORATORS:
            return
        body = list(node.body)
        first = body[0] if body else None
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            body = body[1:]
        if not body or all(_is_stub_statement(s) for s in body):
            self._add("stub_body", f"function {node.name}() has only a stub body", node)


def _file_argument(node: ast.Call) -> ast.expr | None:
    """The file ``open()`` is given, positionally or as ``file=``."""
    if node.args:
        return node.args[0]
    return next((k.value for k in node.keywords if k.arg == "file"), None)


def _is_stub_statement(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
        return stmt.value.value is Ellipsis
    if isinstance(stmt, ast.Raise) and stmt.exc is not None:
        exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
        return _dotted(exc) == "NotImplementedError"
    return False


def _matches(rule: str, name: str) -> bool:
    if rule.endswith("*"):
        return name.startswith(rule[:-1])
    return name == rule or name.startswith(rule + ".")
