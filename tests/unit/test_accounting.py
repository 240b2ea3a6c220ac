"""What the hedge is worth: marks, realised P&L, expiry, spreads, and the books' invariant.

References for the Black-76 checks:

* Haug, E. G. (2007), *The Complete Guide to Option Pricing Formulas*, 2nd ed., §1.1.2
  "Options on futures" (Black-76): F = 19, K = 19, T = 0.75, r = 10%, σ = 28% →
  call = put = 1.7011.
* Hull, J. C., *Options, Futures, and Other Derivatives*, chapter "Futures options"
  (Black's model), the crude-oil example: F = K = 20, T = 4 months, r = 9%, σ = 25% →
  put = 1.12 (= the call, since F = K).
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from daemon.core import rolls
from daemon.core.accounting import (
    CondorBook,
    SatelliteBook,
    hedge_mark_usd,
    leg_mark,
    sleeve_pnl,
)
from daemon.core.hedge_book import HedgeBook, PendingOrder
from daemon.core.model import (
    Action,
    Alert,
    AlertKind,
    Layer,
    OptionLeg,
    OrderIntent,
    ProposedOrder,
    Right,
)
from daemon.core.params import EngineParams, ScenarioParams
from daemon.core.pricing import black76_greeks
from daemon.core.scenario import MarketState, open_template_condor
from daemon.settings import DEFAULT_CONFIG_PATH, load_settings
from tests.unit.engine_parts import DAY, ctx, desk, hedge, state, vix_call
from tests.unit.replay_run import full_replay

FEE = 1.0


def _n(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


@pytest.mark.parametrize(
    ("inputs", "published"),
    [
        ((19.0, 19.0, 0.75, 0.10, 0.28), 1.7011),  # Haug (2007) §1.1.2
        ((20.0, 20.0, 4 / 12, 0.09, 0.25), 1.12),  # Hull, Black's model example
    ],
)
def test_black76_call_matches_the_published_values(
    inputs: tuple[float, float, float, float, float], published: float
) -> None:
    future, strike, t_years, rate, iv = inputs
    g = black76_greeks(
        future=future, strike=strike, t_years=t_years, rate=rate, iv=iv, right=Right.CALL
    )
    decimals = len(str(published).split(".")[1])
    assert round(g.price, decimals) == published


def test_one_vix_call_lot_is_marked_with_black76_on_its_own_future_by_hand() -> None:
    # Haug's inputs on a VIX call: the VX future of its expiry is 19 while spot VIX is 25;
    # 274 days to expiry (ACT/365, T = 0.750685), r = 10%, IV = 28%.
    expiry = DAY + timedelta(days=274)
    st = MarketState(session_date=DAY, spx=3000.0, iwm=150.0, vix=25.0, vx_curve=((expiry, 19.0),))
    params = ScenarioParams(vix_option_iv=0.28, risk_free_rate=0.10)
    t = 274 / 365
    d1 = (math.log(19.0 / 19.0) + 0.5 * 0.28**2 * t) / (0.28 * math.sqrt(t))
    d2 = d1 - 0.28 * math.sqrt(t)
    by_hand = math.exp(-0.10 * t) * (19.0 * _n(d1) - 19.0 * _n(d2))
    assert by_hand == pytest.approx(1.7017, abs=5e-5)  # Haug's 1.7011 at T = 0.75
    leg = vix_call(19.0, expiry)
    assert leg_mark(leg, st, params, None) == pytest.approx(by_hand, rel=1e-12)
    lot = hedge(Layer.L1, (leg,), 3, 300.0)
    assert hedge_mark_usd(lot, st, params) == pytest.approx(3 * 100 * by_hand, rel=1e-12)


def _buy(legs: tuple[OptionLeg, ...], n: int, price: float) -> PendingOrder:
    return PendingOrder(
        layer=Layer.L1,
        intent=OrderIntent.OPEN,
        legs=legs,
        open_legs=legs,
        action=Action.BUY,
        contracts=n,
        limit_price=price,
        new_leg_price=price,
        session_date=DAY,
    )


def test_a_call_bought_and_closed_realises_exactly_the_price_difference_less_fees() -> None:
    book = HedgeBook(fee_per_contract_usd=FEE)
    legs = (vix_call(20.0, date(2020, 4, 15)),)
    book.apply("b", _buy(legs, 10, 2.00), 10, 2.00)
    assert book.layer_pnl(Layer.L1, 0.0).realised_usd == -10 * FEE
    sell = replace(_buy(legs, 10, 3.50), intent=OrderIntent.CLOSE, action=Action.SELL)
    book.apply("s", sell, 10, 3.50)
    pnl = book.layer_pnl(Layer.L1, 0.0)
    assert pnl.realised_usd == pytest.approx(10 * 100 * (3.50 - 2.00) - 20 * FEE)
    assert pnl.fees_usd == 20 * FEE
    assert pnl.premium_paid_usd == 2000.0
    assert (pnl.open_cost_usd, pnl.open_mark_usd) == (0.0, 0.0)
    assert book.hedges == ()


def test_an_expired_call_settles_at_intrinsic_against_the_expiry_day_vix() -> None:
    d = desk()
    expiry = date(2020, 3, 18)
    legs = (vix_call(20.0, expiry),)
    d.book.set_hedges([hedge(Layer.L1, legs, 5, 500.0)])
    # on the expiry day the lot is worth its intrinsic value against that day's VIX
    on_expiry = ctx(d, state(expiry, vix=26.3))
    d.book.record_settlement(expiry, 26.3)
    assert on_expiry.state is not None
    marks = sleeve_pnl(d.book, on_expiry.state, d.params.scenario)
    assert marks[Layer.L1].open_mark_usd == pytest.approx(5 * 100 * 6.3)
    # next session VIX is 40, but the lot settles at the expiry day's 26.3
    after = ctx(d, state(date(2020, 3, 19), vix=40.0))
    (alert,) = rolls.rolls(d, after, skip=set())
    assert isinstance(alert, Alert)
    assert alert.kind is AlertKind.ROLL
    pnl = d.book.layer_pnl(Layer.L1, 0.0)
    assert pnl.realised_usd == pytest.approx(5 * 100 * 6.3 - 500.0)
    assert d.book.hedges == ()


def test_a_call_spread_is_worth_the_net_of_its_legs() -> None:
    st = state()
    p = EngineParams().scenario
    long_leg = vix_call(30.0, date(2020, 4, 15))
    short_leg = vix_call(35.0, date(2020, 4, 15), -1)
    spread = hedge(Layer.L3, (long_leg, short_leg), 4, 4 * 150.0)
    net = leg_mark(long_leg, st, p, None) - leg_mark(short_leg, st, p, None)
    assert 0.0 < net < 5.0
    assert hedge_mark_usd(spread, st, p) == pytest.approx(4 * 100 * net)
    # at expiry with VIX far above both strikes it is worth the width, not the long call
    book = HedgeBook(fee_per_contract_usd=FEE)
    book.set_hedges([spread])
    book.drop(Layer.L3, settle_vix=60.0)
    assert book.layer_pnl(Layer.L3, 0.0).realised_usd == pytest.approx(4 * 100 * 5.0 - 600.0)


def test_the_condor_book_sells_at_the_skewed_mark_and_buys_back_at_the_roll() -> None:
    params = EngineParams()
    st0 = state(DAY, spx=3000.0, vix=20.0)
    c0 = open_template_condor(st0, params.condor_template, params.scenario)
    book = CondorBook(params)
    first = book.on_close(st0, c0)
    fees = FEE * 4 * c0.contracts
    assert first.cycles == 1
    assert first.open_credit_usd == pytest.approx(first.open_mark_usd)  # sold at the mark
    assert first.total_usd == pytest.approx(-fees)
    # SPX falls 10% with VIX at 40: the short put side is under water
    st1 = state(DAY + timedelta(days=10), spx=2700.0, vix=40.0)
    hit = book.on_close(st1, c0)
    assert hit.open_mark_usd > hit.open_credit_usd
    c1 = open_template_condor(st1, params.condor_template, params.scenario)
    rolled = book.on_close(st1, c1)
    assert rolled.cycles == 2
    assert rolled.realised_usd == pytest.approx(
        first.open_credit_usd - hit.open_mark_usd - 3 * fees
    )
    assert rolled.credit_to_date_usd == pytest.approx(
        first.open_credit_usd + rolled.open_credit_usd
    )


def _cash_usd(order: ProposedOrder, fee: float) -> float:
    """Cash of one proposal filled at its limit: + received, − paid, − fees (USD)."""
    mult = order.legs[0].multiplier
    signed = -1.0 if order.action is Action.BUY else 1.0
    return signed * order.limit_price * mult * order.contracts - fee * len(order.legs) * (
        order.contracts
    )


def test_realised_plus_open_marks_is_the_sleeve_total_at_every_close(market_dir: Path) -> None:
    run = full_replay(market_dir)
    fee = load_settings(DEFAULT_CONFIG_PATH).accounting.fee_per_contract_usd
    assert not [a for a in run.decisions if getattr(a, "key", "").startswith("expired:")], (
        "an expiry would need its settlement in the cash count below"
    )
    orders_by_day: dict[date, float] = {}
    for dec in run.decisions:
        if isinstance(dec, ProposedOrder):
            orders_by_day[dec.session_date] = orders_by_day.get(dec.session_date, 0.0) + _cash_usd(
                dec, fee
            )
    cash = 0.0
    checked = 0
    for day in run.engine.days:
        cash += orders_by_day.get(day.session_date, 0.0)
        assert day.pnl is not None
        marks = sum(p.open_mark_usd for p in day.pnl.sleeve.values())
        realised = sum(p.realised_usd for p in day.pnl.sleeve.values())
        unrealised = sum(p.unrealised_usd for p in day.pnl.sleeve.values())
        assert realised + unrealised == pytest.approx(cash + marks, abs=1e-4), day.session_date
        assert day.pnl.sleeve_total_usd == pytest.approx(realised + unrealised, abs=1e-6)
        # what is held is what the book marks: open cost is the cost-cap measure
        cost = sum(p.open_cost_usd for p in day.pnl.sleeve.values())
        assert cost == pytest.approx(day.open_premium_usd, abs=1e-6)
        checked += 1
    assert checked == 4814
    assert cash != 0.0


def test_the_baseline_holds_l1_on_far_more_days_than_the_ladder(market_dir: Path) -> None:
    run = full_replay(market_dir)
    days = [d for d in run.engine.days if d.pnl is not None]
    base_held = sum(
        1 for d in days if d.pnl and d.pnl.baseline_l1 and d.pnl.baseline_l1.open_cost_usd > 0
    )
    ladder_held = sum(1 for d in days if d.contracts_by_layer.get(Layer.L1, 0) > 0)
    assert base_held / len(days) > 0.9
    assert ladder_held < 0.7 * base_held


def test_condor_cycles_close_at_roll_at_dte_with_credit_and_buy_back(market_dir: Path) -> None:
    run = full_replay(market_dir)
    roll_at = load_settings(DEFAULT_CONFIG_PATH).condor.roll_at_dte
    closed = [d.pnl.condor for d in run.engine.days if d.pnl and d.pnl.condor.closed_credit_usd]
    last = run.engine.days[-1].pnl
    assert last is not None
    assert len(closed) == last.condor.cycles - 1  # every cycle but the open one
    realised_before_fees = sum(c.closed_credit_usd - c.closed_debit_usd for c in closed)
    assert last.condor.realised_usd == pytest.approx(
        realised_before_fees - last.condor.fees_usd, abs=1e-6
    )
    condor = run.engine.condor
    assert condor is not None
    assert (condor.expiry - run.engine.days[-1].session_date).days > roll_at


def test_the_satellite_earns_its_notional_times_each_daily_iwm_return() -> None:
    book = SatelliteBook()
    assert book.on_close(200.0, 100_000.0) == 0.0  # first close: nothing held before
    assert book.on_close(210.0, 100_000.0) == pytest.approx(5_000.0)  # +5%
    # rebalanced to the constant notional: -10% of 100k, not of 105k
    assert book.on_close(189.0, 100_000.0) == pytest.approx(5_000.0 - 10_000.0)
    restored = SatelliteBook()
    restored.load(book.state())
    assert restored.on_close(198.45, 100_000.0) == pytest.approx(0.0, abs=1e-6)  # +5%
