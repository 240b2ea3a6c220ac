"""Adapter-side alerts: built here, de-duplicated by key, streamed to the shell.

The engine is not the only source of operator alerts: a broker outage, an unsubscribed
market-data line or a live account in paper mode are seen first by the adapter. These
alerts are core ``Alert`` values; the shell journals and publishes them like any other.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import AsyncIterator
from datetime import datetime

from daemon.core.model import Alert, AlertKind, Severity


def alert_id(key: str, ts: datetime) -> str:
    """Decision id of an adapter alert: sha256 of key and time, first 16 hex chars."""
    return hashlib.sha256(f"ib|{key}|{ts.isoformat()}".encode()).hexdigest()[:16]


class AlertBuffer:
    """A bounded, de-duplicating buffer of alerts (sync ``emit``, async ``stream``).

    ``emit`` is safe to call from an ib_async (eventkit) callback: it never blocks and
    never raises. A key is alerted once until :meth:`clear` re-arms it.

    Args:
        maxlen: the oldest alerts are dropped beyond this many unread ones.
    """

    def __init__(self, maxlen: int = 256) -> None:
        self._pending: deque[Alert] = deque(maxlen=maxlen)
        self._active: set[str] = set()
        self._wake = asyncio.Event()
        self.emitted: list[Alert] = []
        """Every alert emitted since start (for the status page and tests)."""

    def emit(
        self,
        *,
        key: str,
        ts: datetime,
        kind: AlertKind,
        severity: Severity,
        message: str,
    ) -> bool:
        """Queue an alert unless ``key`` is already active; returns whether it was queued."""
        if key in self._active:
            return False
        self._active.add(key)
        alert = Alert(
            decision_id=alert_id(key, ts),
            ts=ts,
            kind=kind,
            severity=severity,
            key=key,
            message=message,
        )
        self._pending.append(alert)
        self.emitted.append(alert)
        self._wake.set()
        return True

    def clear(self, key: str) -> None:
        """Re-arm ``key``: the condition ended, the next occurrence alerts again."""
        self._active.discard(key)

    def is_active(self, key: str) -> bool:
        """Whether ``key`` has alerted and not been cleared."""
        return key in self._active

    def active_keys(self) -> frozenset[str]:
        """Keys that have alerted and not been cleared (conditions still under way)."""
        return frozenset(self._active)

    def drain(self) -> list[Alert]:
        """Take every queued alert (oldest first)."""
        out = list(self._pending)
        self._pending.clear()
        self._wake.clear()
        return out

    async def stream(self) -> AsyncIterator[Alert]:
        """Yield alerts as they are emitted; never ends (cancel to stop)."""
        while True:
            await self._wake.wait()
            for alert in self.drain():
                yield alert
