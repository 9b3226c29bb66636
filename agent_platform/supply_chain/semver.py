"""A small Semantic Versioning 2.0 comparator for npm versions in OSV ``SEMVER`` ranges.

Only precedence is needed (is this version inside ``[introduced, fixed)``?), so this is the
spec's section 11 and nothing more: no range syntax, no coercion beyond a leading ``v``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from agent_platform.errors import InvalidInputError

__all__ = ["SemVer", "parse_semver"]

_SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)


@total_ordering
@dataclass(frozen=True)
class SemVer:
    """A parsed version; build metadata is dropped because it has no precedence."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        mine = (self.major, self.minor, self.patch)
        theirs = (other.major, other.minor, other.patch)
        if mine != theirs:
            return mine < theirs
        return _prerelease_lt(self.prerelease, other.prerelease)


def _prerelease_lt(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    if not a or not b:
        return bool(a) and not b  # a pre-release sorts before its release
    for x, y in zip(a, b, strict=False):
        if x == y:
            continue
        x_num, y_num = x.isdigit(), y.isdigit()
        if x_num and y_num:
            return int(x) < int(y)
        if x_num != y_num:
            return x_num  # numeric identifiers sort before alphanumeric ones
        return x < y
    return len(a) < len(b)


def parse_semver(text: str) -> SemVer:
    """Parse ``text``; ``"0"`` (OSV's "since the beginning") is 0.0.0-0, the lowest version."""
    if text == "0":
        return SemVer(0, 0, 0, ("0",))
    match = _SEMVER.match(text.strip())
    if match is None:
        raise InvalidInputError(f"not a semantic version: {text!r}")
    major, minor, patch, pre = match.groups()
    return SemVer(int(major), int(minor), int(patch), tuple(pre.split(".")) if pre else ())
