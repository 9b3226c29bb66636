"""A small circuit breaker, so a dead cache server does not add its timeout to every call.

After ``threshold`` consecutive failures the breaker opens for ``cooldown_s``; calls made while
it is open are refused at once. The first call after the cool-down is let through as a probe:
success closes the breaker, failure opens it again. The clock is injectable for tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["CircuitBreaker"]


class CircuitBreaker:
    """Counts consecutive failures and short-circuits calls while open. Thread-safe."""

    def __init__(
        self,
        *,
        threshold: int = 1,
        cooldown_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if threshold < 1:
            raise ValueError(f"threshold must be >= 1, got {threshold}")
        if cooldown_s < 0:
            raise ValueError(f"cooldown_s must be >= 0, got {cooldown_s}")
        self._threshold = threshold
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until = 0.0
        self.opened_count = 0

    def allow(self) -> bool:
        """True when a call may go to the server (closed, or the cool-down has passed)."""
        if self._failures == 0:  # the common case; an int read needs no lock
            return True
        with self._lock:
            if self._failures < self._threshold:
                return True
            if self._clock() >= self._open_until:
                # Half-open: let this probe through and re-arm, so concurrent callers
                # keep being refused until the probe reports back.
                self._open_until = self._clock() + self._cooldown_s
                return True
            return False

    def record_success(self) -> None:
        if self._failures == 0:
            return
        with self._lock:
            self._failures = 0
            self._open_until = 0.0

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._failures >= self._threshold:
                if self._open_until <= self._clock():
                    self.opened_count += 1
                self._open_until = self._clock() + self._cooldown_s

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._failures >= self._threshold and self._clock() < self._open_until
