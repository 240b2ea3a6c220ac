"""Heartbeat watches: one data_stale alert per outage, one calendar warning per day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from daemon.core.model import Alert, AlertKind, Decision, Symbol
from daemon.core.monitors import HeartbeatWatch
from daemon.core.params import EngineParams, MacroEvent, MacroEventKind

T0 = datetime(2026, 3, 2, 15, tzinfo=UTC)


def kinds(out: Sequence[Decision]) -> list[tuple[AlertKind, str]]:
    return [(a.kind, a.key) for a in out if isinstance(a, Alert)]


def test_stale_alert_once_per_outage_and_a_fresh_quote_ends_it() -> None:
    far = (MacroEvent(day=date(2027, 1, 1), kind=MacroEventKind.FOMC),)
    w = HeartbeatWatch(EngineParams(stale_after_s=60.0, macro_events=far))
    seen = dict.fromkeys((Symbol.SPX, Symbol.IWM, Symbol.VIX), T0)
    assert w.check(T0 + timedelta(seconds=30), seen) == []
    seen[Symbol.IWM] = T0 + timedelta(seconds=30)
    out = w.check(T0 + timedelta(seconds=61), seen)
    assert kinds(out) == [
        (AlertKind.DATA_STALE, "data_stale:SPX"),
        (AlertKind.DATA_STALE, "data_stale:VIX"),
    ]
    # IWM now 90 s old: its own outage; SPX and VIX are not repeated
    out = w.check(T0 + timedelta(seconds=120), seen)
    assert kinds(out) == [(AlertKind.DATA_STALE, "data_stale:IWM")]
    assert w.check(T0 + timedelta(seconds=150), seen) == []
    w.on_valid_quote(Symbol.SPX)
    seen[Symbol.SPX] = T0 + timedelta(seconds=200)
    assert w.check(T0 + timedelta(seconds=201), seen) == []
    again = w.check(T0 + timedelta(seconds=300), seen)
    assert kinds(again) == [(AlertKind.DATA_STALE, "data_stale:SPX")]


def test_calendar_warning_once_per_day_when_the_calendar_runs_out() -> None:
    soon = (MacroEvent(day=date(2026, 3, 20), kind=MacroEventKind.CPI),)
    w = HeartbeatWatch(EngineParams(stale_after_s=1e9, macro_events=soon))
    out = w.check(T0, {})
    assert kinds(out) == [(AlertKind.CALENDAR_EXPIRING, "calendar_expiring")]
    assert "2026-03-20" in out[0].message  # type: ignore[union-attr]
    assert w.check(T0 + timedelta(hours=1), {}) == []
    assert len(w.check(T0 + timedelta(days=1), {})) == 1
    w2 = HeartbeatWatch(EngineParams(stale_after_s=1e9))
    assert "no macro calendar" in w2.check(T0, {})[0].message  # type: ignore[union-attr]
