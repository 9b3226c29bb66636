"""Package-name normalisation (PEP 503 for PyPI, npm's own rules) and edit distance.

Registries, lockfiles and advisory databases spell the same project differently
(``PyYAML``, ``pyyaml``, ``ruamel.yaml`` vs ``ruamel-yaml``); comparing normalised names is the
only way the checks agree with one another.
"""

from __future__ import annotations

import re

__all__ = ["edit_distance", "normalize_name", "normalize_pypi"]

_PEP503 = re.compile(r"[-_.]+")


def normalize_pypi(name: str) -> str:
    """PEP 503 normalised form: lower case, runs of ``-``, ``_`` and ``.`` become ``-``."""
    return _PEP503.sub("-", name).lower()


def normalize_name(ecosystem: str, name: str) -> str:
    """The canonical name in ``ecosystem`` (npm names are already canonical, lower case)."""
    if ecosystem == "python":
        return normalize_pypi(name)
    return name.strip()


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Optimal-string-alignment distance (insert, delete, substitute, swap neighbours).

    A transposition counts as one edit because swapped letters are the commonest typosquat.
    Returns ``limit + 1`` as soon as the distance is known to exceed ``limit`` (cheap pruning:
    the popular-name list is compared against every dependency).
    """
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[len(b)] if prev[len(b)] <= limit else limit + 1
