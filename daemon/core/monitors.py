"""Live-only watches run from the heartbeat: stale data and an expiring macro calendar.

* ``data_stale`` (critical) once per outage per required symbol (SPX, IWM, VIX) when its
  last valid quote is older than ``stale_after_s``; a new valid quote ends the outage
  (:meth:`HeartbeatWatch.on_valid_quote`). Before the first quote the watch counts from
  the first heartbeat.
* ``calendar_expiring`` (warning) once per day when the last configured macro event is
  within ``calendar_warn_days`` of the heartbeat's date, or none is configured: the
  ``event_window`` signal cannot see events beyond the calendar.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from daemon.core import orders
from daemon.core.model import Alert, AlertKind, Decision, Severity, Symbol
from daemon.core.params import EngineParams

__all__ = ["HeartbeatWatch"]

_WATCHED: tuple[Symbol, ...] = (Symbol.SPX, Symbol.IWM, Symbol.VIX)


class HeartbeatWatch:
    """Stale-data and calendar alerts (state: the symbols in an outage, the last warn day)."""

    def __init__(self, params: EngineParams) -> None:
        self._params = params
        self._stale: set[Symbol] = set()
        self._watch_since: datetime | None = None
        self._calendar_warned_on: date | None = None

    def on_valid_quote(self, symbol: Symbol) -> None:
        """A valid quote of ``symbol`` ends its outage (O(1))."""
        if self._stale:
            self._stale.discard(symbol)

    def check(self, now: datetime, price_ts: Mapping[Symbol, datetime]) -> list[Decision]:
        """The alerts due at ``now`` (module docstring).

        Args:
            now: tz-aware UTC.
            price_ts: time of the last valid quote per symbol, tz-aware UTC.

        Returns:
            The alerts raised (usually none).
        """
        out: list[Decision] = []
        if self._watch_since is None:
            self._watch_since = now
        limit = self._params.stale_after_s
        for sym in _WATCHED:
            if sym in self._stale:
                continue
            ts = price_ts.get(sym, self._watch_since)
            age = (now - ts).total_seconds()
            if age > limit:
                self._stale.add(sym)
                day = now.date()
                out.append(
                    Alert(
                        decision_id=orders.decision_id(
                            "data_stale", sym.value, ts.isoformat(), day.isoformat()
                        ),
                        ts=now,
                        kind=AlertKind.DATA_STALE,
                        severity=Severity.CRITICAL,
                        key=f"data_stale:{sym.value}",
                        message=f"no valid {sym.value} quote for {age:.0f} s "
                        f"(limit {limit:g} s); decisions wait for data",
                    )
                )
        calendar = self._calendar_alert(now)
        if calendar is not None:
            out.append(calendar)
        return out

    def _calendar_alert(self, now: datetime) -> Alert | None:
        today = now.date()
        if self._calendar_warned_on == today:
            return None
        events = self._params.macro_events
        last_event = events[-1].day if events else None
        warn = self._params.calendar_warn_days
        if last_event is not None and (last_event - today).days > warn:
            return None
        self._calendar_warned_on = today
        what = (
            "no macro calendar is configured"
            if last_event is None
            else f"the macro calendar ends on {last_event.isoformat()} "
            f"({(last_event - today).days} days away, warn at {warn})"
        )
        return Alert(
            decision_id=orders.decision_id("calendar_expiring", today.isoformat()),
            ts=now,
            kind=AlertKind.CALENDAR_EXPIRING,
            severity=Severity.WARNING,
            key="calendar_expiring",
            message=f"{what}: event_window cannot see events beyond it; "
            "update the FOMC/CPI/PPI calendar",
        )

    def to_dict(self) -> dict[str, Any]:
        """Snapshot keys ``stale`` and ``calendar_warned_on``."""
        return {
            "stale": sorted(s.value for s in self._stale),
            "calendar_warned_on": None
            if self._calendar_warned_on is None
            else self._calendar_warned_on.isoformat(),
        }

    def load(self, d: Mapping[str, Any]) -> None:
        """Restore from the keys written by :meth:`to_dict`."""
        self._stale = {Symbol(s) for s in d["stale"]}
        cw = d["calendar_warned_on"]
        self._calendar_warned_on = None if cw is None else date.fromisoformat(cw)
