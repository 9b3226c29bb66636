"""Budget windows: which day, month and token window an instant falls in, in the policy's zone.

Window keys are plain strings (``day:2026-11-26``, ``month:2026-11``,
``tokens:openai:minute:2026-11-26T10:31``) shared by every backend, so the SQL counters, the
Redis counters and the spend records agree on what "today" is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from agent_platform.errors import InvalidInputError

__all__ = ["WindowCalendar", "WindowSpan"]

_TOKEN_FORMATS = {"minute": "%Y-%m-%dT%H:%M", "hour": "%Y-%m-%dT%H", "day": "%Y-%m-%d"}
_SPANS_KEPT = 64


@dataclass(frozen=True)
class WindowSpan:
    """A window key with its start and end (UTC, end exclusive)."""

    key: str
    start: datetime
    end: datetime


class WindowCalendar:
    """Computes window keys and bounds in one IANA time zone."""

    def __init__(self, timezone: str, token_window: str = "minute") -> None:
        if token_window not in _TOKEN_FORMATS:
            raise InvalidInputError(
                f"token_window {token_window!r} is not allowed; allowed: {sorted(_TOKEN_FORMATS)}"
            )
        self.zone = ZoneInfo(timezone)
        self.token_window = token_window
        # (UTC minute, stamps) of the last instant asked about: every reservation needs three
        # keys, and formatting them is most of a reservation's Python time.
        self._memo: tuple[int, tuple[str, str, str]] | None = None
        # Spans of recent keys: every commit projects the month (its span), and parsing a key
        # with strptime was most of that projection's time.
        self._spans: dict[str, WindowSpan] = {}

    def local(self, now: datetime) -> datetime:
        if now.tzinfo is None:
            raise InvalidInputError(f"timestamp {now.isoformat()} must be timezone-aware")
        return now.astimezone(self.zone)

    def day_key(self, now: datetime) -> str:
        return "day:" + self._stamps(now)[0]

    def month_key(self, now: datetime) -> str:
        return "month:" + self._stamps(now)[1]

    def token_key(self, provider: str, now: datetime) -> str:
        return f"tokens:{provider}:{self.token_window}:{self._stamps(now)[2]}"

    def _stamps(self, now: datetime) -> tuple[str, str, str]:
        """Local day, month and token-window stamps of ``now``, memoised per UTC minute (valid
        while the zone's offset is whole minutes: then no local day, month, hour or minute
        changes inside a UTC minute)."""
        if now.tzinfo is None:
            raise InvalidInputError(f"timestamp {now.isoformat()} must be timezone-aware")
        minute = int(now.timestamp() // 60)
        memo = self._memo
        if memo is not None and memo[0] == minute:
            return memo[1]
        local = now.astimezone(self.zone)
        stamps = (
            local.strftime("%Y-%m-%d"),
            local.strftime("%Y-%m"),
            local.strftime(_TOKEN_FORMATS[self.token_window]),
        )
        offset = local.utcoffset()
        if offset is not None and offset.total_seconds() % 60 == 0:
            self._memo = (minute, stamps)
        return stamps

    def span(self, key: str) -> WindowSpan:
        """Start and end of the window ``key`` names."""
        found = self._spans.get(key)
        if found is None:
            found = self._parse_span(key)
            if len(self._spans) >= _SPANS_KEPT:
                self._spans.clear()
            self._spans[key] = found
        return found

    def _parse_span(self, key: str) -> WindowSpan:
        parts = key.split(":")
        if parts[0] == "day":
            start = datetime.strptime(parts[1], "%Y-%m-%d").replace(tzinfo=self.zone)
            return WindowSpan(key, start.astimezone(UTC), _next_day(start).astimezone(UTC))
        if parts[0] == "month":
            start = datetime.strptime(parts[1], "%Y-%m").replace(tzinfo=self.zone)
            return WindowSpan(key, start.astimezone(UTC), _next_month(start).astimezone(UTC))
        if parts[0] == "tokens" and len(parts) >= 4:
            unit = parts[2]
            start = datetime.strptime(":".join(parts[3:]), _TOKEN_FORMATS[unit])
            start = start.replace(tzinfo=self.zone)
            step = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1)}.get(unit)
            end = _next_day(start) if step is None else start + step
            return WindowSpan(key, start.astimezone(UTC), end.astimezone(UTC))
        raise InvalidInputError(f"window key {key!r} is not a day, month or token window")


def _next_day(start: datetime) -> datetime:
    following = (start + timedelta(days=1, hours=3)).date()
    return datetime(following.year, following.month, following.day, tzinfo=start.tzinfo)


def _next_month(start: datetime) -> datetime:
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return datetime(year, month, 1, tzinfo=start.tzinfo)
