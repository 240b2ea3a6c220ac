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
