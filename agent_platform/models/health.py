"""Per-provider health: cooldowns after failures (honouring Retry-After) and observed latency.

One tracker per router instance (no process-global state). A 429 puts the provider in cooldown
for its Retry-After (else ``cooldown_s``); other failures count consecutively and
``failure_threshold`` of them in a row start a ``cooldown_s`` cooldown; a success resets the count.
Latency is the median of the last few successful calls, so one slow outlier does not move it.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from agent_platform.errors import ProviderError

__all__ = ["HealthSnapshot", "HealthTracker"]

_WINDOW = 5


@dataclass(frozen=True)
class HealthSnapshot:
    provider: str
    available: bool
    cooldown_remaining_s: float
    consecutive_failures: int
    observed_latency_ms: float | None


class HealthTracker:
    """Cooldowns and latency observations of the providers one router calls."""

    def __init__(
        self,
        *,
        cooldown_s: float,
        failure_threshold: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cooldown_s = cooldown_s
        self.failure_threshold = failure_threshold
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._latency: dict[str, deque[float]] = {}

    def record_success(self, provider: str, latency_ms: float) -> None:
        with self._lock:
            self._failures[provider] = 0
            self._until.pop(provider, None)
            self._latency.setdefault(provider, deque(maxlen=_WINDOW)).append(latency_ms)

    def record_failure(self, provider: str, error: ProviderError) -> None:
        with self._lock:
            now = self.monotonic()
            if error.kind == "rate_limited":
                pause = error.retry_after_s if error.retry_after_s is not None else self.cooldown_s
                self._until[provider] = max(self._until.get(provider, 0.0), now + pause)
                return
            count = self._failures.get(provider, 0) + 1
            self._failures[provider] = count
            if count >= self.failure_threshold:
                self._until[provider] = max(self._until.get(provider, 0.0), now + self.cooldown_s)

    def cooldown_remaining(self, provider: str) -> float:
        with self._lock:
            return max(0.0, self._until.get(provider, 0.0) - self.monotonic())

    def available(self, provider: str) -> bool:
        return self.cooldown_remaining(provider) <= 0.0

    def failures_in_a_row(self, provider: str) -> int:
        """Failures since the provider's last success (rate limits not counted)."""
        with self._lock:
            return self._failures.get(provider, 0)

    def observed_latency_ms(self, provider: str) -> float | None:
        with self._lock:
            samples = self._latency.get(provider)
            return statistics.median(samples) if samples else None

    def snapshot(self, provider: str) -> HealthSnapshot:
        remaining = self.cooldown_remaining(provider)
        failures = self.failures_in_a_row(provider)
        return HealthSnapshot(
            provider, remaining <= 0, remaining, failures, self.observed_latency_ms(provider)
        )
