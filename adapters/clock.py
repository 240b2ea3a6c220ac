"""The wall clock (the ``Clock`` port) — the only place production code reads time."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class SystemClock:
    """System time: tz-aware UTC ``now()`` and ``time.monotonic()`` seconds."""

    def now(self) -> datetime:
        """Current time, tz-aware UTC."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """Monotonic seconds (arbitrary origin; for durations and timeouts only)."""
        return time.monotonic()


class ShiftedClock(SystemClock):
    """System time moved to start at ``start``: ``now() = start + (elapsed real time)``.

    For rehearsals only (``alvhd run --clock-start``, paper mode): it lets the live daemon
    run against the fake TWS or a replayed feed as if it were a historical session, so
    session closes, proposals, paper orders and fills happen by hand. ``monotonic()`` is
    the real monotonic clock.

    Args:
        start: the instant the clock shows at construction (tz-aware).

    Raises:
        ValueError: ``start`` is naive.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            msg = f"clock start must be tz-aware, got {start!r}"
            raise ValueError(msg)
        self._offset = start.astimezone(UTC) - datetime.now(UTC)

    def now(self) -> datetime:
        """The shifted time, tz-aware UTC."""
        return datetime.now(UTC) + self._offset
