"""The engine never dies of a market it has not seen; bad prints never become a close.

Issue 6 §3–§4: hypothesis drives the engine with extreme but valid price paths (SPX
towards 1, VIX towards 1000, gaps of any size); no exception may leave it, a skipped
evaluation says so in one ``engine`` alert, and a restart on the snapshot goes on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.core.engine import Engine
from daemon.core.model import Alert, AlertKind, Bar, Decision, ProposedOrder, Quote, Symbol
from daemon.core.params import CondorTemplate, EngineParams
from daemon.sessions import sessions_from

START = date(2024, 1, 2)
WARM = 300
SESSIONS = sessions_from(START, WARM + 80)
BASE = {
    Symbol.SPX: 4700.0,
    Symbol.IWM: 200.0,
    Symbol.VIX: 13.0,
    Symbol.RVX: 18.0,
    Symbol.VIX3M: 15.5,
    Symbol.VX1: 14.0,
    Symbol.VX2: 15.0,
}


def _warm() -> dict[Symbol, list[Bar]]:
    out: dict[Symbol, list[Bar]] = {}
    for sym, px in BASE.items():
        bars = []
        for i, d in enumerate(SESSIONS[:WARM]):
            # a gentle wave so every indicator is warm and non-degenerate
            p = px * (1.0 + 0.02 * math.sin(i / 7.0))
            bars.append(
                Bar(
                    symbol=sym,
                    session_date=d,
                    open=p,
                    high=p,
                    low=p,
                    close=p,
                    expiry=d + timedelta(days=20 if sym is Symbol.VX1 else 50)
                    if sym in (Symbol.VX1, Symbol.VX2)
                    else None,
                )
            )
        out[sym] = bars
    return out


WARM_BARS = _warm()


def _engine(params: EngineParams | None = None) -> Engine:
    eng = Engine(params or EngineParams(), sessions=SESSIONS)
    eng.warm_up(WARM_BARS)
    return eng


def _close_ts(d: date) -> datetime:
    return datetime.combine(d, time(21, 0), tzinfo=UTC)


def _drive(
    eng: Engine, moves: Sequence[dict[Symbol, float]], *, settle: bool, first: int = 0
) -> list[Decision]:
    """Feed one session per ``moves`` item: log-moves per symbol, 3 ticks each, then close."""
    out: list[Decision] = []
    level = {s: math.log(p) for s, p in BASE.items()}
    for k, move in enumerate(moves):
        d = SESSIONS[WARM + first + k]
        for s, m in move.items():
            level[s] = min(max(level[s] + m, math.log(1e-3)), math.log(1e7))
        for tick in range(3):
            ts = _close_ts(d) - timedelta(minutes=30 * (3 - tick))
            for s in BASE:
                px = math.exp(level[s]) * (1.0 + 0.001 * tick)
                q = Quote(
                    symbol=s,
                    price=px,
                    ts=ts,
                    session_date=d,
                    expiry=d + timedelta(days=20 if s is Symbol.VX1 else 50)
                    if s in (Symbol.VX1, Symbol.VX2)
                    else None,
                    is_settlement=settle,
                )
                eng.on_quote(q)
            out += eng.evaluate(ts)
        out += eng.on_session_close(d, _close_ts(d))
    return out


log_move = st.floats(min_value=-4.0, max_value=4.0, allow_nan=False)
session_moves = st.fixed_dictionaries(
    {s: st.one_of(st.just(0.0), log_move, st.floats(-0.05, 0.05)) for s in BASE}
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(moves=st.lists(session_moves, min_size=1, max_size=25), settle=st.booleans())
def test_the_engine_never_raises_on_extreme_paths(
    moves: list[dict[Symbol, float]], settle: bool
) -> None:
    eng = _engine()
    out = _drive(eng, moves, settle=settle)
    # whatever happened, a restart on the snapshot continues without raising either
    again = Engine(EngineParams(), sessions=SESSIONS)
    again.restore(eng.snapshot())
    out += _drive(again, moves[-3:], settle=settle, first=len(moves))
    for d in out:
        if isinstance(d, ProposedOrder):
            assert d.contracts > 0
            assert d.limit_price > 0
            assert math.isfinite(d.cost_usd)
    skipped = [d for d in out if isinstance(d, Alert) and d.kind is AlertKind.ENGINE]
    assert len(skipped) <= eng.skipped_evaluations + again.skipped_evaluations


def test_spx_at_46_skips_the_close_with_one_warning_and_changes_nothing() -> None:
    # a template condor that rolls at every close (roll_at_dte above its DTE)
    params = EngineParams(condor_template=CondorTemplate(roll_at_dte=90))
    eng = _engine(params)
    _drive(eng, [{}], settle=True)
    assert eng.condor is not None
    # then SPX collapses to 46 (settled: confirmed data)
    d = SESSIONS[WARM + 1]
    for s, px in BASE.items():
        price = 46.0 if s is Symbol.SPX else px
        eng.on_quote(
            Quote(symbol=s, price=price, ts=_close_ts(d), session_date=d, is_settlement=True)
        )
    before = json.loads(eng.snapshot())
    out = eng.on_session_close(d, _close_ts(d))
    after = json.loads(eng.snapshot())
    alerts = [a for a in out if isinstance(a, Alert)]
    assert [(a.kind, a.severity.value) for a in alerts] == [(AlertKind.ENGINE, "warning")]
    assert "non-positive long put strike" in alerts[0].message
    assert "SPX 46" in alerts[0].message
    assert not [o for o in out if isinstance(o, ProposedOrder)]
    # rolled back: everything but the committed closes is as before the close
    for key in ("ladder", "hedges", "pending", "condor", "seq", "days_count"):
        assert after[key] == before[key], key
    assert after["book"]["last_session"] == d.isoformat()
    # the next close with the same state: skipped again, silently (one alert per episode)
    d2 = SESSIONS[WARM + 2]
    eng.on_quote(
        Quote(symbol=Symbol.SPX, price=47.0, ts=_close_ts(d2), session_date=d2, is_settlement=True)
    )
    assert eng.on_session_close(d2, _close_ts(d2)) == []
    assert eng.skipped_evaluations == 2
    # a restart on this state does not crash either (no crash loop)
    restarted = Engine(params, sessions=SESSIONS)
    restarted.restore(eng.snapshot())
    d3 = SESSIONS[WARM + 3]
    restarted.on_quote(
        Quote(symbol=Symbol.SPX, price=45.0, ts=_close_ts(d3), session_date=d3, is_settlement=True)
    )
    again = restarted.on_session_close(d3, _close_ts(d3))
    assert [a.kind for a in again if isinstance(a, Alert)] == [AlertKind.ENGINE]


def test_day_summaries_are_bounded() -> None:
    eng = _engine(EngineParams(days_window=5))
    _drive(eng, [{} for _ in range(12)], settle=True)
    assert len(eng.days) == 5
    assert eng.last_day is not None
    assert eng.last_day.session_date == SESSIONS[WARM + 11]
    assert [d.session_date for d in eng.days] == list(SESSIONS[WARM + 7 : WARM + 12])


def test_spx_30_before_the_close_is_quarantined_and_not_the_close() -> None:
    clean, bad = _engine(), _engine()
    d = SESSIONS[WARM]
    ts = _close_ts(d) - timedelta(minutes=5)
    for eng in (clean, bad):
        for s, px in BASE.items():
            eng.on_quote(Quote(symbol=s, price=px * 1.001, ts=ts, session_date=d))
    rejected = bad.on_quote(
        Quote(symbol=Symbol.SPX, price=30.0, ts=ts + timedelta(seconds=50), session_date=d)
    )
    assert rejected is not None
    assert rejected.reason == "implausible"
    out_clean = clean.on_session_close(d, _close_ts(d))
    out_bad = bad.on_session_close(d, _close_ts(d))
    suspect = [a for a in out_bad if isinstance(a, Alert) and a.kind is AlertKind.DATA_SUSPECT]
    assert len(suspect) == 1
    assert suspect[0].severity.value == "warning"
    assert "SPX 30" in suspect[0].message
    day = [x for x in out_bad if x not in suspect]
    assert day == out_clean
    assert json.loads(bad.snapshot())["book"] == json.loads(clean.snapshot())["book"]
    assert bad.quality_counts["quarantined_by_symbol"] == {"SPX": 1}


def test_a_genuine_vix_spike_confirmed_by_ticks_becomes_the_close() -> None:
    eng = _engine()
    d = SESSIONS[WARM]
    t = _close_ts(d) - timedelta(minutes=30)
    for s, px in BASE.items():
        eng.on_quote(Quote(symbol=s, price=px, ts=t, session_date=d))
    # VIX 13 → 40 (+208%, beyond VIX's 150%): three consistent new prints confirm it
    verdicts = [
        eng.on_quote(
            Quote(symbol=Symbol.VIX, price=px, ts=t + timedelta(seconds=i + 1), session_date=d)
        )
        for i, px in enumerate((39.5, 40.1, 40.0))
    ]
    assert [v is None for v in verdicts] == [False, False, True]
    out = eng.on_session_close(d, _close_ts(d))
    suspect = [a for a in out if isinstance(a, Alert) and a.kind is AlertKind.DATA_SUSPECT]
    assert [a.severity.value for a in suspect] == ["warning", "info"]
    assert "confirmed as a genuine move" in suspect[1].message
    assert json.loads(eng.snapshot())["book"]["last_closes"]["VIX"] == 40.0
