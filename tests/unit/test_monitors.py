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


def test_stale_alert_once_per_outage_episode_and_one_when_restored() -> None:
    far = (MacroEvent(day=date(2027, 1, 1), kind=MacroEventKind.FOMC),)
    w = HeartbeatWatch(EngineParams(stale_after_s=60.0, macro_events=far))
    seen = dict.fromkeys((Symbol.SPX, Symbol.IWM, Symbol.VIX), T0)
    seen[Symbol.IWM] = T0 + timedelta(seconds=30)
    out: list[Decision] = []
    for s in range(0, 300, 5):  # a heartbeat every 5 s; the feed is silent
        out += w.check(T0 + timedelta(seconds=s), seen)
    # SPX and VIX at 61 s, IWM at 91 s: one episode, one alert
    assert kinds(out) == [(AlertKind.DATA_STALE, "data_stale")]
    assert "SPX, VIX" in out[0].message  # type: ignore[union-attr]
    seen[Symbol.SPX] = T0 + timedelta(seconds=300)
    assert w.check(T0 + timedelta(seconds=300), seen) == []  # IWM, VIX still stale
    seen = dict.fromkeys(seen, T0 + timedelta(seconds=305))
    back = w.check(T0 + timedelta(seconds=305), seen)
    assert kinds(back) == [(AlertKind.DATA_STALE, "data_restored")]
    assert back[0].severity.value == "info"  # type: ignore[union-attr]
    again = [w.check(T0 + timedelta(seconds=305 + s), seen) for s in range(5, 100, 5)]
    assert [kinds(a) for a in again if a] == [[(AlertKind.DATA_STALE, "data_stale")]]


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
