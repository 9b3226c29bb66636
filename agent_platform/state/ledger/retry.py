"""How an append without ``expected_seq`` waits out other writers: a deadline, not a count.

A caller that names no sequence number asked for "append at the head, whatever it is", so a
lost compare-and-set is retried by the appender itself. A fixed number of immediate retries
gave up on about 1 % of appends with four processes appending at once: every loser re-read the
head at the same moment and lost again together. Here the appender retries until a deadline,
pausing between attempts with exponential backoff and full jitter (a random pause between zero
and the current step), so competing writers spread out; when the deadline passes it raises
:class:`LedgerContentionError`, which says how long it tried and how many times.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from agent_platform.errors import InvalidInputError, LedgerConflictError

__all__ = ["DEFAULT_DEADLINE_S", "AppendRetry", "LedgerContentionError"]

DEFAULT_DEADLINE_S = 10.0


def _positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidInputError(f"{name}: got {value!r}; allowed: a number > 0")
    if not math.isfinite(value):
        raise InvalidInputError(f"{name}: got {value!r}; allowed: a finite number")


@dataclass(frozen=True)
class AppendRetry:
    """The retry policy of appends without ``expected_seq``.

    Attributes:
        deadline_s: how long to keep trying before :class:`LedgerContentionError`.
        first_backoff_s: the largest pause after the first lost race.
        max_backoff_s: the cap of the pause, however many races were lost.
    """

    deadline_s: float = DEFAULT_DEADLINE_S
    first_backoff_s: float = 0.0005
    max_backoff_s: float = 0.05

    def __post_init__(self) -> None:
        _positive("deadline_s", self.deadline_s)
        _positive("first_backoff_s", self.first_backoff_s)
        _positive("max_backoff_s", self.max_backoff_s)

    def pause_s(self, lost: int, remaining_s: float) -> float:
        """The pause after the ``lost``-th lost race (full jitter), never past the deadline."""
        step = min(self.max_backoff_s, self.first_backoff_s * 2.0 ** min(lost - 1, 30))
        return min(max(remaining_s, 0.0), random.uniform(0.0, step))


class LedgerContentionError(LedgerConflictError):
    """An append without ``expected_seq`` kept losing to other writers until its deadline.

    A :class:`LedgerConflictError` (nothing was written), so callers that handle conflicts
    handle this too; ``attempts`` and ``elapsed_s`` say how hard it tried.
    """

    def __init__(
        self, ledger: str, expected_seq: int, actual_head: int, attempts: int, elapsed_s: float
    ) -> None:
        super().__init__(expected_seq, actual_head)
        self.ledger = ledger
        self.attempts = attempts
        self.elapsed_s = elapsed_s
        self.args = (
            f"ledger {ledger!r}: gave up appending after {attempts} attempts in "
            f"{elapsed_s:.2f} s: other writers kept moving the head (last seen at seq "
            f"{actual_head}); allow a longer deadline or append less concurrently",
        )
