"""Parts the loopback receivers share: the fault plan and a bounded wait on a condition."""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["FaultPlan", "wait_until"]


@dataclass
class FaultPlan:
    queued: deque[str] = field(default_factory=deque)
    sticky: dict[str, str] = field(default_factory=dict)
    rate: float = 0.0
    kinds: tuple[str, ...] = ("500", "drop", "timeout")
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def next_fault(self, path: str) -> str | None:
        if path in self.sticky:
            return self.sticky[path]
        if self.queued:
            return self.queued.popleft()
        if self.rate > 0 and self.rng.random() < self.rate:
            return self.rng.choice(self.kinds)
        return None


def wait_until(changed: threading.Condition, ready: Callable[[], bool], timeout: float) -> bool:
    """With ``changed`` held, wait until ``ready()``; False once ``timeout`` s pass first.

    Re-checks at least every 0.1 s, so a change made without a notify is still seen.
    """
    deadline = time.monotonic() + timeout
    while not ready():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        changed.wait(min(remaining, 0.1))
    return True
