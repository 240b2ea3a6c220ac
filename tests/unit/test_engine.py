"""The engine on real daily history (SPX, IWM, VIX, RVX, VIX3M, VX futures).

Data: ``market_dir`` (tests/conftest.py). The engine is warmed up with the 250 sessions
before the first day and then fed, session by session, one Quote per series (price =
close, ts = 21:00 UTC) and a session close, as the replay source does. Most tests use
2020-01-01..2020-04-30; the rebalance tests (instrument rule, no-trade band, cost-cap
alerts) replay the whole history from 2007-01-03 (a few seconds).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pandas as pd
import pytest

from daemon.core.engine import Engine
from daemon.core.model import (
    Action,
    Alert,
    AlertKind,
    Bar,
    Decision,
    Fill,
    HedgePosition,
    IronCondor,
    Layer,
    LayerChange,
    OptionLeg,
    OrderIntent,
    ProposedOrder,
    Quote,
    Right,
    Severity,
    Symbol,
)
from daemon.core.params import EngineParams, LadderParams, MacroEvent, MacroEventKind
from daemon.core.rolls import add_floor_dte

START = date(2020, 1, 1)
END = date(2020, 4, 30)
WARM = 250
HISTORY_START = date(2007, 1, 3)
REBALANCE_IDS = frozenset({"rebalance_cadence", "big_move"})
RULE_IDS = frozenset({"instrument_dte", "min_premium", "max_otm"})

_PLAIN = {
    Symbol.SPX: "spx_daily.csv",
    Symbol.IWM: "iwm_daily.csv",
    Symbol.VIX: "vix_daily.csv",
    Symbol.RVX: "rvx_daily.csv",
    Symbol.VIX3M: "vix3m_daily.csv",
}


@dataclass(frozen=True)
class Market:
    """Real history, split into warm-up bars and per-session quotes."""

    sessions: tuple[date, ...]
    warm: dict[Symbol, list[Bar]]
    days: tuple[date, ...]
    quotes: dict[date, list[Quote]]


def _read(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path)
    df["date"] = pd.to_datetime(df["date"]).dt.date
    return df.set_index("date")


def load_market(
    market_dir: Path, start: date, end: date | None, sessions_end: date | None
) -> Market:
    """Warm-up bars (the WARM sessions before ``start``) and per-session quotes.

    ``end``/``sessions_end`` None: up to the last day with SPX, IWM and VIX closes. Rows
    with a missing (NaN) value are skipped, as the replay source rejects them.
    """
    frames = {s: _read(market_dir / f) for s, f in _PLAIN.items()}
    fut = _read(market_dir / "vix_futures_f1f2_daily.csv")
    spx = frames[Symbol.SPX]
    last = min(frames[s].index.max() for s in (Symbol.SPX, Symbol.IWM, Symbol.VIX))
    end = last if end is None else end
    sessions_end = last if sessions_end is None else sessions_end
    sessions = tuple(d for d in spx.index if start - timedelta(days=800) <= d <= sessions_end)
    first = next(i for i, d in enumerate(sessions) if d >= start)
    warm_days = set(sessions[first - WARM : first])
    days = tuple(d for d in sessions[first:] if d <= end)
    warm: dict[Symbol, list[Bar]] = {}
    for sym, df in frames.items():
        sub = df[df.index.isin(warm_days)]
        warm[sym] = [
            Bar(symbol=sym, session_date=d, open=o, high=h, low=lo, close=c)
            for d, o, h, lo, c in zip(
                sub.index,
                sub["open"].astype(float).tolist(),
                sub["high"].astype(float).tolist(),
                sub["low"].astype(float).tolist(),
                sub["close"].astype(float).tolist(),
                strict=True,
            )
        ]
    sub = fut[fut.index.isin(warm_days)]
    warm[Symbol.VX1] = [
        Bar(
            symbol=Symbol.VX1,
            session_date=d,
            open=px,
            high=px,
            low=px,
            close=px,
            expiry=date.fromisoformat(str(exp)),
        )
        for d, px, exp in zip(
            sub.index,
            sub["f1_settle"].astype(float).tolist(),
            sub["f1_expiry"].tolist(),
            strict=True,
        )
    ]
    quotes: dict[date, list[Quote]] = {}
    closes = {
        sym: dict(zip(df.index, df["close"].astype(float).tolist(), strict=True))
        for sym, df in frames.items()
    }
    vx = {
        d: ((Symbol.VX1, p1, e1), (Symbol.VX2, p2, e2))
        for d, p1, e1, p2, e2 in zip(
            fut.index,
            fut["f1_settle"].astype(float).tolist(),
            fut["f1_expiry"].tolist(),
            fut["f2_settle"].astype(float).tolist(),
            fut["f2_expiry"].tolist(),
            strict=True,
        )
    }
    for d in days:
        ts = datetime.combine(d, time(21, 0), tzinfo=UTC)
        # daily closes: official settlements, confirmed data for the plausibility filter
        qs = [
            Quote(symbol=sym, price=closes[sym][d], ts=ts, session_date=d, is_settlement=True)
            for sym in frames
            if d in closes[sym] and math.isfinite(closes[sym][d])
        ]
        for sym, px, exp in vx.get(d, ()):
            if math.isfinite(px) and isinstance(exp, str):
                qs.append(
                    Quote(
                        symbol=sym,
                        price=px,
                        ts=ts,
                        session_date=d,
                        expiry=date.fromisoformat(exp),
                        is_settlement=True,
                    )
                )
        quotes[d] = qs
    return Market(sessions=sessions, warm=warm, days=days, quotes=quotes)


@pytest.fixture(scope="module")
def market(market_dir: Path) -> Market:
    return load_market(market_dir, START, END, date(2020, 12, 31))


@pytest.fixture(scope="module")
def history(market_dir: Path) -> Market:
    return load_market(market_dir, HISTORY_START, None, None)


def new_engine(m: Market, **kw: object) -> Engine:
    eng = Engine(EngineParams(), sessions=m.sessions, **kw)  # type: ignore[arg-type]
    eng.warm_up(m.warm)
    return eng


def feed(eng: Engine, m: Market, days: Sequence[date]) -> list[Decision]:
    out: list[Decision] = []
    for d in days:
        for q in m.quotes[d]:
            assert eng.on_quote(q) is None
        out.extend(eng.on_session_close(d, datetime.combine(d, time(21, 0), tzinfo=UTC)))
    return out


@pytest.fixture(scope="module")
def full_run(market: Market) -> tuple[Engine, list[Decision]]:
    eng = new_engine(market)
    return eng, feed(eng, market, market.days)


def held(eng: Engine) -> list[HedgePosition]:
    return list(eng.hedges)


def ids(decisions: Sequence[Decision]) -> list[str]:
    return [d.decision_id for d in decisions]


def layer_days(eng: Engine, layer: Layer, lo: date, hi: date) -> tuple[int, int]:
    window = [d for d in eng.days if lo <= d.session_date <= hi]
    return sum(layer in d.active_layers for d in window), len(window)


def orders_of(decisions: Sequence[Decision]) -> Iterator[ProposedOrder]:
    return (d for d in decisions if isinstance(d, ProposedOrder))


def min_dte(layer: Layer, lp: LadderParams | None = None) -> int:
    """The shortest DTE of the layer's instrument rule (SPEC §4): L1/L3 14, L2 30."""
    lp = lp or LadderParams()
    return lp.l2_min_dte if layer is Layer.L2 else lp.l1_min_dte


def dte_of(o: ProposedOrder) -> int:
    return min((leg.expiry - o.session_date).days for leg in o.legs)


@dataclass(frozen=True)
class Run:
    """A replay with the sleeve as it was before each close."""

    eng: Engine
    out: list[Decision]
    held_before: dict[date, dict[Layer, HedgePosition]]


def tracked_run(m: Market, params: EngineParams | None = None) -> Run:
    eng = Engine(params or EngineParams(), sessions=m.sessions)
    eng.warm_up(m.warm)
    out: list[Decision] = []
    before: dict[date, dict[Layer, HedgePosition]] = {}
    for d in m.days:
        before[d] = {h.layer: h for h in eng.hedges}
        out.extend(feed(eng, m, [d]))
    return Run(eng=eng, out=out, held_before=before)


@pytest.fixture(scope="module")
def history_run(history: Market) -> Run:
    # keep every day summary in memory (the default window is bounded)
    return tracked_run(history, EngineParams(days_window=len(history.days)))


def wanted(o: ProposedOrder) -> int:
    """Units a rebalance asked for: the order's, or "N wanted" when the cap cut it."""
    if not o.is_capped:
        return o.contracts
    m = re.search(r"; (\d+) wanted, ", o.note)
    assert m is not None, o.note
    return int(m[1])


def band_resizes(run: Run) -> list[tuple[ProposedOrder, int]]:
    """Rebalance RESIZEs of the held option, each with the units held just before it.

    The sleeve is replayed order by order from the state before each close, so a roll
    earlier at the same close is seen. Re-strikes, roll companions (``instrument_dte``)
    and cost-cap sell-downs are left out: the band does not bind them.
    """
    found: list[tuple[ProposedOrder, int]] = []
    by_day: dict[date, list[ProposedOrder]] = {}
    for o in orders_of(run.out):
        by_day.setdefault(o.session_date, []).append(o)
    for day, day_orders in by_day.items():
        held = {layer: (h.legs, h.contracts) for layer, h in run.held_before[day].items()}
        for o in day_orders:
            legs, n = held.get(o.layer, ((), 0))
            ids_ = {r.id for r in o.reasons}
            if (
                o.intent is OrderIntent.RESIZE
                and o.reasons[0].id in REBALANCE_IDS
                and "instrument_dte" not in ids_
                and o.legs == legs
                and "re-strike" not in o.note
            ):
                found.append((o, n))
            if o.intent is OrderIntent.ROLL:  # the new legs carry the later expiry
                new_exp = max(leg.expiry for leg in o.legs)
                held[o.layer] = (tuple(x for x in o.legs if x.expiry == new_exp), o.contracts)
            elif o.action is Action.BUY:
                held[o.layer] = (o.legs, (n if o.legs == legs else 0) + o.contracts)
            elif o.legs == legs:
                held[o.layer] = (legs, n - o.contracts)
    return found


# --------------------------------------------------------------------------- 2020 replay


def test_l1_is_on_through_the_covid_crash_with_a_ratio_macd_proposal(
    full_run: tuple[Engine, list[Decision]],
) -> None:
    eng, out = full_run
    # The IWM/SPX ratio MACD line turned negative on 2019-12-31 and stayed negative until
    # May 2020, so L1 opens at the first session and is on across late Feb / early March.
    on = [d for d in out if isinstance(d, LayerChange) and d.layer is Layer.L1 and d.is_active]
    assert on
    assert on[0].session_date <= date(2020, 3, 6)
    assert [r.id for r in on[0].reasons] == ["ratio_macd_negative"]
    opens = [
        o
        for o in orders_of(out)
        if o.layer is Layer.L1
        and o.intent is OrderIntent.OPEN
        and o.session_date == on[0].session_date
    ]
    assert len(opens) == 1
    assert "ratio_macd_negative" in [r.id for r in opens[0].reasons]
    assert opens[0].action is Action.BUY
    assert opens[0].contracts > 0
    assert opens[0].scenario is not None
    assert opens[0].scenario.scenario_loss_usd > 0
    l1_on, n = layer_days(eng, Layer.L1, date(2020, 2, 20), date(2020, 3, 13))
    assert l1_on == n > 0


def test_acceptance_window_l1_over_90pct_and_l2_on_some_days(
    full_run: tuple[Engine, list[Decision]],
) -> None:
    eng, out = full_run
    l1_on, n = layer_days(eng, Layer.L1, date(2020, 2, 15), date(2020, 4, 15))
    assert l1_on / n > 0.9
    l2_on, _ = layer_days(eng, Layer.L2, date(2020, 2, 15), date(2020, 4, 15))
    assert l2_on > 0
    l2_changes = [d for d in out if isinstance(d, LayerChange) and d.layer is Layer.L2]
    first_on = next(c for c in l2_changes if c.is_active)
    ids_ = {r.id for r in first_on.reasons}
    assert "vix_macd_bull_cross" in ids_
    assert ids_ & {"vix_rsi_hot", "ratio_rsi_weak"}


def test_cost_cap_holds_every_day(full_run: tuple[Engine, list[Decision]]) -> None:
    eng, out = full_run
    assert len(eng.days) == 83
    for day in eng.days:
        assert day.cost_cap_usd > 0
        assert day.open_premium_usd <= day.cost_cap_usd + 1e-6, day.session_date
    capped = [o for o in orders_of(out) if o.is_capped]
    cap_alerts = [d for d in out if isinstance(d, Alert) and d.kind is AlertKind.COST_CAP]
    assert (not capped) or cap_alerts
    for a in cap_alerts:
        assert "cost cap" in a.message


def test_every_layer_change_has_an_alert_with_reasons_and_exit_rule(
    full_run: tuple[Engine, list[Decision]],
) -> None:
    _, out = full_run
    changes = [d for d in out if isinstance(d, LayerChange)]
    alerts = [
        d
        for d in out
        if isinstance(d, Alert)
        and d.kind in (AlertKind.LAYER_ACTIVATED, AlertKind.LAYER_DEACTIVATED)
    ]
    assert len(changes) == len(alerts) >= 3
    for c, a in zip(changes, alerts, strict=True):
        assert a.layer is c.layer
        assert (a.kind is AlertKind.LAYER_ACTIVATED) is c.is_active
        assert a.reasons == c.reasons
        assert c.reasons
        assert a.exit_rule == c.exit_rule
        assert "minimum hold" in c.exit_rule
        assert c.reasons[0].id in a.message


def test_orders_are_well_formed(full_run: tuple[Engine, list[Decision]]) -> None:
    _, out = full_run
    refs = set()
    for o in orders_of(out):
        assert o.contracts > 0
        assert o.limit_price > 0
        assert math.isclose(o.cost_usd, o.limit_price * 100 * o.contracts)
        assert o.reasons
        assert o.order_ref.startswith(f"alvh:{o.layer.value}:{o.intent.value}:")
        assert o.order_ref.endswith(o.decision_id)
        assert len(o.order_ref) <= 64
        assert "\n" not in o.note
        assert o.note.startswith(f"{o.layer.value} {o.intent.value}:")
        refs.add(o.order_ref)
    assert len(refs) == len(list(orders_of(out)))
    assert len(set(ids(out))) == len(out)  # every decision has its own id
    rolls = [o for o in orders_of(out) if o.intent is OrderIntent.ROLL]
    assert rolls  # Time-Shifting happened (L1 calls roll monthly)
    for r in rolls:
        half = len(r.legs) // 2  # the closing legs (× old units), then the opening ones
        closing, opening = r.legs[:half], r.legs[half:]
        assert len(closing) == len(opening)
        assert closing[0].position_qty < 0 < opening[0].position_qty  # sell old, buy new
        assert closing != tuple(replace(leg, position_qty=-leg.position_qty) for leg in opening)
        old_exp, new_exp = closing[0].expiry, opening[0].expiry
        old_dte = (old_exp - r.session_date).days
        why = {x.id for x in r.reasons}
        if why & RULE_IDS:  # a rebalance re-strike of an option outside its layer's rules
            assert r.reasons[0].id in REBALANCE_IDS
            if "instrument_dte" in why:
                assert old_dte < add_floor_dte(LadderParams()) <= (new_exp - r.session_date).days
        else:
            assert why == {"roll_dte"}
            assert old_dte < LadderParams().roll_dte


def test_same_run_twice_gives_identical_decision_ids(
    market: Market, full_run: tuple[Engine, list[Decision]]
) -> None:
    _, out = full_run
    eng2 = new_engine(market)
    assert ids(feed(eng2, market, market.days)) == ids(out)


def test_snapshot_restore_mid_run_continues_identically(
    market: Market, full_run: tuple[Engine, list[Decision]]
) -> None:
    eng_full, out_full = full_run
    cut = market.days.index(date(2020, 3, 5))
    first, rest = market.days[: cut + 1], market.days[cut + 1 :]
    eng_a = new_engine(market)
    feed(eng_a, market, first)
    blob = eng_a.snapshot()
    eng_b = Engine(EngineParams(), sessions=market.sessions)
    eng_b.restore(blob)
    assert eng_b.hedges == eng_a.hedges
    assert eng_b.active_layers == eng_a.active_layers
    out_b = feed(eng_b, market, rest)
    expected = [d for d in out_full if _day_of(d) > first[-1]]
    assert ids(out_b) == ids(expected)
    assert out_b == expected
    assert eng_b.hedges == eng_full.hedges
    assert eng_b.snapshot() == eng_full.snapshot()


def _day_of(d: Decision) -> date:
    if isinstance(d, Alert):
        return d.ts.date()
    return d.session_date


def test_bad_quotes_are_rejected_counted_and_never_reach_signals(
    market: Market, full_run: tuple[Engine, list[Decision]]
) -> None:
    _, out = full_run
    eng = new_engine(market)
    bad_count = 0
    got: list[Decision] = []
    for d in market.days:
        ts = datetime.combine(d, time(21, 0), tzinfo=UTC)
        for q in market.quotes[d]:
            assert eng.on_quote(q) is None
        if d.day % 7 == 0:
            for bad, reason in (
                (Quote(symbol=Symbol.VIX, price=float("nan"), ts=ts, session_date=d), "nan"),
                (Quote(symbol=Symbol.SPX, price=-1.0, ts=ts, session_date=d), "non_positive"),
                (Quote(symbol=Symbol.IWM, price=0.0, ts=ts, session_date=d), "non_positive"),
                (Quote(symbol=Symbol.IWM, price=float("inf"), ts=ts, session_date=d), "nan"),
                (
                    Quote(symbol=Symbol.IWM, price=150.0, ts=ts, session_date=d, bid=151, ask=150),
                    "bid_gt_ask",
                ),
                (
                    Quote(symbol=Symbol.VIX, price=30.0, ts=ts, session_date=d, bid=float("nan")),
                    "bad_bid_ask",
                ),
                (
                    Quote(
                        symbol=Symbol.IWM, price=150.0, ts=ts.replace(tzinfo=None), session_date=d
                    ),
                    "naive_ts",
                ),
            ):
                rej = eng.on_quote(bad)
                assert rej is not None
                assert rej.symbol is bad.symbol
                assert rej.reason == reason
                bad_count += 1
        got.extend(eng.on_session_close(d, ts))
    assert eng.rejected_count == bad_count > 0
    assert ids(got) == ids(out)
    assert [d.readings for d in eng.days] == [d.readings for d in full_run[0].days]


def test_repeated_or_older_close_changes_nothing_but_is_loud(market: Market) -> None:
    eng = new_engine(market)
    d0, d1 = market.days[0], market.days[1]
    feed(eng, market, [d0, d1])
    now = datetime.combine(d1, time(22, 0), tzinfo=UTC)
    (again,) = eng.on_session_close(d1, now)
    (older,) = eng.on_session_close(d0, now)
    assert len(eng.days) == 2
    for alert, day in ((again, d1), (older, d0)):
        assert isinstance(alert, Alert)
        assert alert.kind is AlertKind.DATA_STALE
        assert alert.severity is (Severity.INFO if day == d1 else Severity.WARNING)
        assert f"session close {day} ignored" in alert.message
    # the same repeat gives the same id, so the journal keeps one alert per date
    assert eng.on_session_close(d1, now)[0].decision_id == again.decision_id


def test_intraday_big_move_rebalances_before_the_close(market: Market) -> None:
    eng = new_engine(market)
    days = list(market.days)
    feed(eng, market, days[: days.index(date(2020, 2, 21)) + 1])
    held_before = {h.layer: h.contracts for h in eng.hedges}
    d = date(2020, 2, 24)  # SPX -3.4%, IWM -3.1% vs the 2020-02-20 rebalance
    ts = datetime.combine(d, time(20, 0), tzinfo=UTC)
    for q in market.quotes[d]:
        eng.on_quote(Quote(symbol=q.symbol, price=q.price, ts=ts, session_date=d, expiry=q.expiry))
    out = eng.evaluate(ts)
    resizes = [o for o in orders_of(out) if o.intent is OrderIntent.RESIZE]
    assert resizes
    assert all(r.reasons[0].id == "big_move" for r in resizes)
    assert not any(isinstance(x, LayerChange) for x in out)  # intraday_confirm is off
    assert {h.layer: h.contracts for h in eng.hedges} != held_before
    assert eng.evaluate(ts + timedelta(minutes=1)) == []  # reference moved: no repeat


# --------------------------------------------------------------------------- broker mode, heartbeat


def test_broker_mode_changes_the_sleeve_only_on_fill(market: Market) -> None:
    eng = new_engine(market, assume_fills=False)
    d = market.days[0]
    out = feed(eng, market, [d])
    opens = list(orders_of(out))
    assert opens
    assert not held(eng)
    o = opens[0]
    eng.on_fill(Fill(order_ref=o.order_ref, contracts=o.contracts, price=o.limit_price, ts=o.ts))
    hedges = held(eng)
    assert len(hedges) == 1
    h = hedges[0]
    assert h.layer is o.layer
    assert h.contracts == o.contracts
    assert math.isclose(h.premium_paid_usd, o.cost_usd)
    assert eng.on_fill(Fill(order_ref="alvh:unknown", contracts=1, price=1.0, ts=o.ts)) == []


def test_data_stale_once_per_outage_and_calendar_warning_once_per_day(market: Market) -> None:
    params = EngineParams(
        macro_events=(MacroEvent(day=date(2020, 3, 18), kind=MacroEventKind.FOMC),),
    )
    eng = Engine(params, sessions=market.sessions)
    eng.warm_up(market.warm)
    t0 = datetime(2020, 3, 2, 15, 0, tzinfo=UTC)

    def tick(at: datetime, *symbols: Symbol) -> None:
        for sym in symbols or (Symbol.SPX, Symbol.IWM, Symbol.VIX):
            px = {Symbol.SPX: 3000.0, Symbol.IWM: 150.0, Symbol.VIX: 30.0}[sym]
            eng.on_quote(Quote(symbol=sym, price=px, ts=at, session_date=at.date()))

    def alerts(out: Sequence[Decision]) -> list[tuple[str, str]]:
        return [(a.kind.value, a.severity.value) for a in out if isinstance(a, Alert)]

    tick(t0)
    first = eng.on_heartbeat(t0 + timedelta(seconds=60))
    assert alerts(first) == [("calendar_expiring", "warning")]
    out: list[Decision] = []
    for s in range(61, 400):  # a heartbeat per second; the feed is silent
        out += eng.on_heartbeat(t0 + timedelta(seconds=s))
    stale = [a for a in out if isinstance(a, Alert)]
    assert alerts(stale) == [("data_stale", "critical")]  # one alert for the episode
    assert all(sym in stale[0].message for sym in ("SPX", "IWM", "VIX"))
    t1 = t0 + timedelta(seconds=400)
    tick(t1, Symbol.SPX)  # SPX alone is back: the outage goes on
    assert eng.on_heartbeat(t1) == []
    tick(t1 + timedelta(seconds=1))
    back = eng.on_heartbeat(t1 + timedelta(seconds=1))
    assert alerts(back) == [("data_stale", "info")]
    assert "restored" in back[0].message  # type: ignore[union-attr]
    next_day = eng.on_heartbeat(t0 + timedelta(days=1))
    assert [a.kind for a in next_day if isinstance(a, Alert)] == [AlertKind.CALENDAR_EXPIRING]


def test_broker_positions_above_a_shrunken_cap_are_sold_down(market: Market) -> None:
    condor = IronCondor(
        short_put_strike=3000.0,
        long_put_strike=2950.0,
        short_call_strike=3400.0,
        long_call_strike=3450.0,
        expiry=date(2020, 6, 19),
        contracts=2,
        net_credit=5.0,  # $1,000 credit → $400 cap
        multiplier=100,
    )
    eng = new_engine(market, condor=condor)
    leg = OptionLeg(
        right=Right.CALL,
        strike=20.0,
        expiry=date(2020, 2, 19),
        position_qty=1,
        multiplier=100,
        trading_class="VIX",
    )
    eng.set_positions(
        condor=condor,
        hedges=[
            HedgePosition(
                layer=Layer.L1,
                legs=(leg,),
                contracts=10,
                premium_paid_usd=1000.0,  # $100 a unit, 2.5x the cap
                order_ref="broker",
                opened_on=date(2019, 12, 20),
            )
        ],
        satellite=None,
    )
    d = market.days[0]
    out = feed(eng, market, [d])
    day = eng.days[-1]
    assert day.cost_cap_usd == pytest.approx(400.0)
    assert day.open_premium_usd <= day.cost_cap_usd + 1e-6
    assert day.is_cost_capped
    sells = [o for o in orders_of(out) if o.action is Action.SELL and o.layer is Layer.L1]
    assert sells
    assert sells[-1].is_capped
    assert sum(o.contracts for o in sells) >= 6  # 10 units at $100 → at most 4 fit
    assert any(isinstance(a, Alert) and a.kind is AlertKind.COST_CAP for a in out)
    # the broker's L1 option was kept (re-sized), not silently replaced
    assert all(h.legs == (leg,) for h in eng.hedges)


def test_intraday_confirm_switches_layers_before_the_close(market: Market) -> None:
    params = EngineParams(ladder=LadderParams(intraday_confirm=True))
    eng = Engine(params, sessions=market.sessions)
    eng.warm_up(market.warm)
    days = list(market.days)
    feed(eng, market, days[: days.index(date(2020, 2, 21)) + 1])
    assert Layer.L2 not in eng.active_layers
    d = date(2020, 2, 24)  # L2 confirms at this close in the end-of-day run
    ts = datetime.combine(d, time(19, 0), tzinfo=UTC)
    for q in market.quotes[d]:
        eng.on_quote(Quote(symbol=q.symbol, price=q.price, ts=ts, session_date=d, expiry=q.expiry))
    out = eng.evaluate(ts)
    on = [x for x in out if isinstance(x, LayerChange) and x.is_active]
    assert [c.layer for c in on] == [Layer.L2]
    assert Layer.L2 in eng.active_layers
    closing = eng.on_session_close(d, datetime.combine(d, time(21, 0), tzinfo=UTC))
    assert not any(isinstance(x, LayerChange) for x in closing)  # not announced twice
    assert Layer.L2 in eng.active_layers


# --------------------------------------------------------------------------- 2007 → end replay


def test_history_never_adds_to_an_option_below_its_add_floor(history_run: Run) -> None:
    orders = list(orders_of(history_run.out))
    assert len(history_run.eng.days) > 4500
    buys = [o for o in orders if o.action is Action.BUY and o.intent is not OrderIntent.ROLL]
    assert buys
    floor = add_floor_dte(LadderParams())
    low = [o for o in buys if o.intent is OrderIntent.RESIZE and dte_of(o) < floor]
    assert low == [], [o.note for o in low[:3]]
    # ... it rolls into the layer's current instrument instead (the old L1 example:
    # 2008-05-14 "buy 476 VIX 2008-05-21 24C @ 0.02" is one ROLL of the 66 held into
    # 28 June calls: one proposal, ratio legs −33 / +14, 2 combos).
    rolled = [o for o in orders if any(r.id == "instrument_dte" for r in o.reasons)]
    assert {o.layer for o in rolled if o.intent is OrderIntent.ROLL} >= {Layer.L1, Layer.L3}
    may = [o for o in rolled if o.session_date == date(2008, 5, 14) and o.layer is Layer.L1]
    assert [o.intent for o in may] == [OrderIntent.ROLL]
    (roll,) = may
    close, open_ = roll.legs
    assert (close.position_qty * roll.contracts, open_.position_qty * roll.contracts) == (-66, 28)


def test_history_resizes_are_under_54pct_of_orders(history_run: Run) -> None:
    # Before the instrument rule and the band: 1537 orders, 1026 RESIZE (66.8%).
    orders = list(orders_of(history_run.out))
    # After (measured): 1187 orders, 633 RESIZE (53.3%); with strikes snapped to Cboe's
    # listed VIX strikes (2.5/5-point intervals above 30): 1204 orders, 650 RESIZE (54.0%).
    resizes = [o for o in orders if o.intent is OrderIntent.RESIZE]
    assert len(orders) < 1250
    assert len(resizes) < 670
    assert len(resizes) / len(orders) < 0.545


def test_history_covid_window_keeps_l1_and_l2(history_run: Run) -> None:
    window = [
        d for d in history_run.eng.days if date(2020, 2, 15) <= d.session_date <= date(2020, 4, 15)
    ]
    assert sum(Layer.L1 in d.active_layers for d in window) / len(window) > 0.9
    assert any(Layer.L2 in d.active_layers for d in window)


def test_history_rebalance_respects_the_no_trade_band(history_run: Run) -> None:
    band = LadderParams().rebalance_band_frac
    found = band_resizes(history_run)
    assert len(found) > 300
    small = [(o.note, n) for o, n in found if wanted(o) <= band * n]
    assert small == []


def test_band_zero_resizes_every_difference(market: Market) -> None:
    default = tracked_run(market)
    zero = tracked_run(market, EngineParams(ladder=LadderParams(rebalance_band_frac=0.0)))
    band = LadderParams().rebalance_band_frac
    inside = [o for o, n in band_resizes(zero) if wanted(o) <= band * n]
    assert inside  # without the band these small re-sizes are proposed ...
    assert not [o for o, n in band_resizes(default) if wanted(o) <= band * n]  # ... not now
    assert len(band_resizes(default)) < len(band_resizes(zero))


_SCALED = re.compile(
    r"^(L\d) (open|resize|roll): (\d+) x .* wanted \(\$[\d,.]+\), scaled down to (\d+) by "
    r"the cost cap"
)
_SELLING = re.compile(r"^(L\d) resize: selling (\d+) of (\d+) x .* to the cost cap")


def test_history_cost_cap_alerts_match_their_proposals(history_run: Run) -> None:
    out = history_run.out
    alerts = [i for i, d in enumerate(out) if isinstance(d, Alert) and d.kind is AlertKind.COST_CAP]
    assert len(alerts) > 50
    grouped: set[str] = set()
    for i in alerts:
        alert = out[i]
        assert isinstance(alert, Alert)
        group: list[ProposedOrder] = []
        for d in out[i + 1 :]:
            if (
                not isinstance(d, ProposedOrder)
                or d.layer is not alert.layer
                or d.session_date != alert.ts.date()
                or not d.is_capped
            ):
                break
            group.append(d)
        grouped |= {o.decision_id for o in group}
        scaled = _SCALED.match(alert.message)
        if scaled is not None:
            asked, got = int(scaled[3]), int(scaled[4])
            assert asked > got >= 0
            opened = [o for o in group if o.intent is OrderIntent.ROLL or o.action is Action.BUY]
            assert sum(opened_units(o) for o in opened) == got, alert.message
            assert all(f"; {asked} wanted, " in o.note for o in opened), alert.message
            continue
        selling = _SELLING.match(alert.message)
        assert selling is not None, alert.message
        assert [(o.action, o.contracts) for o in group] == [(Action.SELL, int(selling[2]))]
    # every capped proposal belongs to the alert that announced it
    capped = [o for o in orders_of(out) if o.is_capped]
    assert capped
    assert {o.decision_id for o in capped} <= grouped


def opened_units(o: ProposedOrder) -> int:
    """Units a BUY opens, or the new units of a (ratio) ROLL: opening-leg ratio × combos."""
    if o.intent is not OrderIntent.ROLL:
        return o.contracts
    return o.legs[len(o.legs) // 2].position_qty * o.contracts


def test_history_cost_cap_holds_every_day(history_run: Run) -> None:
    for day in history_run.eng.days:
        assert day.open_premium_usd <= day.cost_cap_usd + 1e-6, day.session_date


# ------------------------------------------------------------------- instrument rule, synthetic


def _engine_holding_old_l1(
    market: Market, *, net_credit: float, premium_usd: float
) -> tuple[Engine, OptionLeg]:
    """Broker mode: a condor of ``net_credit`` and 5 L1 calls with 13 days left (< 14)."""
    condor = IronCondor(
        short_put_strike=3000.0,
        long_put_strike=2950.0,
        short_call_strike=3400.0,
        long_call_strike=3450.0,
        expiry=date(2020, 6, 19),
        contracts=2,
        net_credit=net_credit,
        multiplier=100,
    )
    eng = new_engine(market, condor=condor)
    old = OptionLeg(
        right=Right.CALL,
        strike=16.0,
        expiry=market.days[0] + timedelta(days=13),
        position_qty=1,
        multiplier=100,
        trading_class="VIX",
    )
    eng.set_positions(
        condor=condor,
        hedges=[
            HedgePosition(
                layer=Layer.L1,
                legs=(old,),
                contracts=5,
                premium_paid_usd=premium_usd,
                order_ref="broker",
                opened_on=date(2019, 12, 20),
            )
        ],
        satellite=None,
    )
    return eng, old


def test_a_held_option_below_its_min_dte_is_rolled_to_target_not_added_to(
    market: Market,
) -> None:
    # $400 cap: the target (13 units of the L1 instrument at $33) is capped to 12.
    eng, old = _engine_holding_old_l1(market, net_credit=5.0, premium_usd=50.0)
    d = market.days[0]
    out = feed(eng, market, [d])
    orders = list(orders_of(out))
    assert not [o for o in orders if o.action is Action.BUY and o.legs == (old,)]
    (roll,) = orders  # one proposal: the 5 held roll into the 12 the cap allows
    assert roll.intent is OrderIntent.ROLL
    close, new = roll.legs
    assert (close.expiry, close.strike) == (old.expiry, old.strike)
    assert (new.expiry - d).days >= LadderParams().l1_min_dte
    assert (roll.contracts, close.position_qty, new.position_qty) == (1, -5, 12)
    assert "instrument_dte" in {r.id for r in roll.reasons}
    (alert,) = [a for a in out if isinstance(a, Alert) and a.kind is AlertKind.COST_CAP]
    m = _SCALED.match(alert.message)
    assert m is not None
    assert (m[2], int(m[3]), int(m[4])) == ("roll", 13, 12)
    assert roll.is_capped
    (h,) = eng.hedges
    assert (h.legs, h.contracts) == ((replace(new, position_qty=1),), 12)
    assert eng.open_premium_usd <= eng.cost_cap_usd + 1e-6


def test_a_roll_that_fits_no_new_unit_keeps_the_held_hedge_and_says_so(market: Market) -> None:
    # $24 cap: one unit of the L1 instrument ($33) does not fit.
    eng, old = _engine_holding_old_l1(market, net_credit=0.3, premium_usd=10.0)
    out = feed(eng, market, [market.days[0]])
    assert list(orders_of(out)) == []
    (alert,) = [a for a in out if isinstance(a, Alert) and a.kind is AlertKind.COST_CAP]
    m = _SCALED.match(alert.message)
    assert m is not None
    assert int(m[4]) == 0
    assert "5 held are kept" in alert.message
    (h,) = eng.hedges
    assert (h.legs, h.contracts) == ((old,), 5)
