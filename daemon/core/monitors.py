"""Live-only watches run from the heartbeat: stale data and an expiring macro calendar.

* ``data_stale`` once per outage *episode* of the required series (SPX, IWM, VIX;
  :class:`daemon.core.staleness.StaleWatch`): critical, naming every stale series, when
  a last valid quote is older than ``stale_after_s``; then one ``data_stale`` *restored*
  alert (info) when all are fresh again (issue 6 §3: not one per symbol per
  ``stale_after_s``). Before the first quote the watch counts from the first heartbeat.
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
from daemon.core.staleness import StaleEpisode, StaleWatch

__all__ = ["HeartbeatWatch"]

_WATCHED: tuple[Symbol, ...] = (Symbol.SPX, Symbol.IWM, Symbol.VIX)


class HeartbeatWatch:
    """Stale-data and calendar alerts (state: the symbols in an outage, the last warn day)."""

    def __init__(self, params: EngineParams) -> None:
        self._params = params
        self._stale = StaleWatch(params.stale_after_s, _WATCHED)
        self._calendar_warned_on: date | None = None

    def check(self, now: datetime, price_ts: Mapping[Symbol, datetime]) -> list[Decision]:
        """The alerts due at ``now`` (module docstring).

        Args:
            now: tz-aware UTC.
            price_ts: time of the last valid quote per symbol, tz-aware UTC.

        Returns:
            The alerts raised (usually none).
        """
        out: list[Decision] = []
        for sym in _WATCHED:
            ts = price_ts.get(sym)
            if ts is not None:
                self._stale.on_valid(sym, ts.timestamp())
        change = self._stale.check(now.timestamp())
        if change is not None:
            out.append(_stale_alert(change, now))
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
            "stale": [],  # layout v1: staleness is re-judged from scratch after a restart
            "calendar_warned_on": None
            if self._calendar_warned_on is None
            else self._calendar_warned_on.isoformat(),
        }

    def load(self, d: Mapping[str, Any]) -> None:
        """Restore from the keys written by :meth:`to_dict`."""
        cw = d["calendar_warned_on"]
        self._calendar_warned_on = None if cw is None else date.fromisoformat(cw)


def _stale_alert(ep: StaleEpisode, now: datetime) -> Alert:
    """The ``data_stale`` alert of an outage episode starting (critical) or ending (info)."""
    started = datetime.fromtimestamp(ep.started_at_s, tz=now.tzinfo).isoformat()
    if ep.is_open:
        return Alert(
            decision_id=orders.decision_id("data_stale", started),
            ts=now,
            kind=AlertKind.DATA_STALE,
            severity=Severity.CRITICAL,
            key="data_stale",
            message=f"no valid {ep.names} quote for {ep.age_s:.0f} s "
            f"(limit {ep.limit_s:g} s); decisions wait for data",
        )
    return Alert(
        decision_id=orders.decision_id("data_stale", started, "restored"),
        ts=now,
        kind=AlertKind.DATA_STALE,
        severity=Severity.INFO,
        key="data_restored",
        message=f"data restored: valid {ep.names} quotes again after an outage of {ep.age_s:.0f} s",
    )
