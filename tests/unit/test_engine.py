"""The engine on real daily history (SPX, IWM, VIX, RVX, VIX3M, VX futures), 2020.

Data: ``market_dir`` (tests/conftest.py). The engine is warmed up with the 250 sessions
before 2020-01-01 and then fed, session by session, one Quote per series (price = close,
ts = 21:00 UTC) and a session close, as the replay source does.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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
    Symbol,
)
from daemon.core.params import EngineParams, LadderParams, MacroEvent, MacroEventKind

START = date(2020, 1, 1)
END = date(2020, 4, 30)
WARM = 250

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


@pytest.fixture(scope="module")
def market(market_dir: Path) -> Market:
    frames = {s: _read(market_dir / f) for s, f in _PLAIN.items()}
    fut = _read(market_dir / "vix_futures_f1f2_daily.csv")
    spx = frames[Symbol.SPX]
    sessions = tuple(d for d in spx.index if START - timedelta(days=800) <= d <= date(2020, 12, 31))
    first = next(i for i, d in enumerate(sessions) if d >= START)
    warm_days = set(sessions[first - WARM : first])
    days = tuple(d for d in sessions[first:] if d <= END)
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
        qs = [
            Quote(symbol=sym, price=closes[sym][d], ts=ts, session_date=d)
            for sym in frames
            if d in closes[sym]
        ]
        if d in vx:
            for sym, px, exp in vx[d]:
                qs.append(
                    Quote(
                        symbol=sym,
                        price=px,
                        ts=ts,
                        session_date=d,
                        expiry=date.fromisoformat(str(exp)),
                    )
                )
        quotes[d] = qs
    return Market(sessions=sessions, warm=warm, days=days, quotes=quotes)


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
        if o.intent is OrderIntent.ROLL:
            assert len({leg.expiry for leg in o.legs}) == 2
    assert len(refs) == len(list(orders_of(out)))
    assert len(set(ids(out))) == len(out)  # every decision has its own id
    rolls = [o for o in orders_of(out) if o.intent is OrderIntent.ROLL]
    assert rolls  # Time-Shifting happened (L1 calls roll monthly)
    for r in rolls:
        old_exp, new_exp = sorted({leg.expiry for leg in r.legs})
        closing = [leg for leg in r.legs if leg.expiry == old_exp]
        opening = [leg for leg in r.legs if leg.expiry == new_exp]
        assert len(closing) == len(opening)
        assert closing[0].position_qty < 0 < opening[0].position_qty  # sell old, buy new
        assert (old_exp - r.session_date).days < 7


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


def test_repeated_or_older_close_is_a_no_op(market: Market) -> None:
    eng = new_engine(market)
    d0, d1 = market.days[0], market.days[1]
    feed(eng, market, [d0, d1])
    now = datetime.combine(d1, time(22, 0), tzinfo=UTC)
    assert eng.on_session_close(d1, now) == []
    assert eng.on_session_close(d0, now) == []
    assert len(eng.days) == 2


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
    for sym, px in ((Symbol.SPX, 3000.0), (Symbol.IWM, 150.0), (Symbol.VIX, 30.0)):
        eng.on_quote(Quote(symbol=sym, price=px, ts=t0, session_date=t0.date()))
    first = eng.on_heartbeat(t0 + timedelta(seconds=60))
    assert [a.kind for a in first if isinstance(a, Alert)] == [AlertKind.CALENDAR_EXPIRING]
    assert eng.on_heartbeat(t0 + timedelta(seconds=90)) == []
    late = eng.on_heartbeat(t0 + timedelta(seconds=200))
    stale = [a for a in late if isinstance(a, Alert) and a.kind is AlertKind.DATA_STALE]
    assert sorted(a.key for a in stale) == ["data_stale:IWM", "data_stale:SPX", "data_stale:VIX"]
    assert eng.on_heartbeat(t0 + timedelta(seconds=300)) == []  # same outage: once
    t1 = t0 + timedelta(seconds=310)
    eng.on_quote(Quote(symbol=Symbol.SPX, price=3001.0, ts=t1, session_date=t1.date()))
    again = eng.on_heartbeat(t1 + timedelta(seconds=200))
    assert [a.key for a in again if isinstance(a, Alert)] == ["data_stale:SPX"]
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
