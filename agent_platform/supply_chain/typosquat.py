"""Typosquat suspicion: a dependency name one edit away from a popular package's name.

Code-writing models (and hurried humans) produce ``reqeusts`` and ``python-dateutils``; attackers
register exactly those. A name that *is* a popular name, or is allow-listed, is never flagged.
"""

from __future__ import annotations

from collections.abc import Iterable

from agent_platform.schemas.supply_chain import TyposquatConfig
from agent_platform.supply_chain.names import edit_distance, normalize_name

__all__ = ["TyposquatChecker"]


class TyposquatChecker:
    """Compare names against the curated popular list of their ecosystem."""

    def __init__(self, config: TyposquatConfig) -> None:
        self.max_distance = config.max_distance
        self._popular: dict[str, frozenset[str]] = {
            eco: frozenset(normalize_name(eco, n) for n in names)
            for eco, names in config.popular.items()
        }
        self._allow = frozenset(config.allow)

    def suspects(self, ecosystem: str, name: str) -> list[str]:
        """Popular names that ``name`` is suspiciously close to (empty when none)."""
        canonical = normalize_name(ecosystem, name)
        popular = self._popular.get(ecosystem, frozenset())
        if canonical in popular or canonical in self._allow or name in self._allow:
            return []
        return sorted(_close(canonical, popular, self.max_distance))


def _close(name: str, candidates: Iterable[str], limit: int) -> Iterable[str]:
    squashed = name.replace("-", "")
    for candidate in candidates:
        near = edit_distance(name, candidate, limit) <= limit
        if near or (squashed != name and squashed == candidate.replace("-", "")):
            yield candidate
