"""No lottery tickets (issue 10, §2) on synthetic days: what the desk and the sizing do
with cheap, far out-of-the-money or near-expiry hedges.

The market is the stressed 2020-03 day of :mod:`tests.unit.engine_parts` (VIX 30, March
future 29, April 28). Each test says what the operator sees: which proposal, or which
alert instead of one.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from daemon.core import orders, rolls, sizing
from daemon.core.hedge_pricing import hedge_unit
from daemon.core.model import (
    Action,
    Alert,
    AlertKind,
    Fill,
    Layer,
    OrderIntent,
    ProposedOrder,
    SignalReading,
)
from daemon.core.params import EngineParams
from daemon.core.strikes import l2_legs
from tests.unit.engine_parts import DAY, VX_APR, VX_MAR, ctx, desk, hedge, state, vix_call

WHY = SignalReading(
    id="rebalance_cadence", value=5.0, threshold=5.0, holds=True, detail="5 sessions"
)
LONG_AGO = date(2020, 2, 20)  # 7 sessions before DAY (2020-03-02)


def params(*, min_premium_pts: float) -> EngineParams:
    p = EngineParams()
    return replace(p, orders=replace(p.orders, min_premium_pts=min_premium_pts))


def test_a_buy_below_the_premium_floor_is_refused_with_an_alert() -> None:
    d = desk()
    c = ctx(d)
    legs = (vix_call(60.0, VX_MAR),)  # 31 points out of the money, 16 days left
    unit = d.unit(legs, c)
    assert 0.0 < unit.price < d.params.orders.min_premium_pts
    out = d.buy(
        c,
        layer=Layer.L1,
        intent=OrderIntent.RESIZE,
        legs=legs,
        unit=unit,
        contracts=500,
        contracts_after_if_full=500,
        reasons=(WHY,),
        why="target 500",
    )
    (alert,) = out
    assert isinstance(alert, Alert)
    assert alert.kind is AlertKind.REBALANCE
    assert "orders.min_premium_pts" in alert.message
    assert "not bought" in alert.message
    assert d.book.hedges == ()
    # the configuration can allow it: with no floor the same buy is proposed
    d0 = desk(params(min_premium_pts=0.0))
    c0 = ctx(d0)
    (order,) = d0.buy(
        c0,
        layer=Layer.L1,
        intent=OrderIntent.RESIZE,
        legs=legs,
        unit=d0.unit(legs, c0),
        contracts=5,
        contracts_after_if_full=5,
        reasons=(WHY,),
        why="target 5",
    )
    assert isinstance(order, ProposedOrder)


def test_a_drifted_l1_strike_is_re_struck_in_one_roll_not_added_to() -> None:
    d = desk()
    c = ctx(d)
    assert c.state is not None
    drifted = (vix_call(36.0, VX_APR),)  # 8 points above April's 28: beyond max_otm_pts 5
    d.book.set_hedges([replace(hedge(Layer.L1, drifted, 5, 500.0), opened_on=LONG_AGO)])
    out = sizing.rebalance(d, c, (Layer.L1,), set(), WHY)
    alert, roll = out
    assert isinstance(alert, Alert)
    assert alert.kind is AlertKind.ROLL
    assert "re-strike" in alert.message
    assert isinstance(roll, ProposedOrder)
    assert roll.intent is OrderIntent.ROLL
    assert "max_otm" in {r.id for r in roll.reasons}
    close, new = roll.legs
    assert (close.strike, close.expiry) == (36.0, VX_APR)
    (current,) = d.legs_for(Layer.L1, c.state)
    assert (new.strike, new.expiry) == (current.strike, VX_MAR)
    assert close.position_qty * roll.contracts == -5  # all 5 held are closed ...
    held = d.book.get(Layer.L1)
    assert held is not None
    assert held.legs == d.legs_for(Layer.L1, c.state)
    assert held.contracts == new.position_qty * roll.contracts  # ... into the new target
    assert not [o for o in out if isinstance(o, ProposedOrder) and o.legs == drifted]


def test_a_hedge_opened_within_the_cadence_is_neither_added_to_nor_re_struck() -> None:
    d = desk()
    c = ctx(d)
    drifted = (vix_call(36.0, VX_APR),)
    d.book.set_hedges([replace(hedge(Layer.L1, drifted, 5, 500.0), opened_on=date(2020, 2, 27))])
    assert sizing.rebalance(d, c, (Layer.L1,), set(), WHY) == []
    held = d.book.get(Layer.L1)
    assert held is not None
    assert (held.legs, held.contracts) == (drifted, 5)


def test_an_l2_inside_the_rules_is_added_to_below_30_days_not_rolled() -> None:
    day = date(2020, 3, 17)  # the April hedge has 29 days left: below the 30–60 window
    d = desk()
    c = ctx(d, state(day))
    legs = (vix_call(40.0, VX_APR),)
    d.book.set_hedges([replace(hedge(Layer.L2, legs, 2, 60.0), opened_on=LONG_AGO)])
    assert sizing.rule_breach(d, c, Layer.L2, d.unit(legs, c)) is None
    out = sizing.rebalance(d, c, (Layer.L2,), set(), WHY)
    proposed = [o for o in out if isinstance(o, ProposedOrder)]
    assert [(o.intent, o.action, o.legs) for o in proposed] == [
        (OrderIntent.RESIZE, Action.BUY, legs)
    ]


def test_a_one_to_one_roll_books_the_new_units_at_their_limit_on_its_fill() -> None:
    d = desk(assume_fills=False)
    day = date(2020, 3, 12)  # the March hedge has 6 days left < roll_dte 7
    c = ctx(d, state(day))
    old = (vix_call(25.0, VX_MAR),)
    d.book.set_hedges([hedge(Layer.L1, old, 4, 400.0)])
    skip: set[Layer] = set()
    (roll,) = rolls.rolls(d, c, skip)
    assert isinstance(roll, ProposedOrder)
    assert d.has_traded(c, Layer.L1)
    new_legs = roll.legs[1:]
    new_price = d.unit(tuple(replace(x, position_qty=1) for x in new_legs), c).price
    # 1:1 here (the cap is wide): the fill of 4 combos books 4 new units
    d.book.on_fill(
        Fill(order_ref=roll.order_ref, contracts=4, price=roll.limit_price, ts=datetime.now(UTC))
    )
    held = d.book.get(Layer.L1)
    assert held is not None
    assert held.contracts == 4
    limit = orders.limit_price(new_price, d.params.orders, action=Action.BUY)
    assert held.premium_paid_usd == pytest.approx(limit * 100 * 4)


def test_a_ratio_roll_fill_books_ratio_times_combos() -> None:
    d = desk(assume_fills=False)
    c = ctx(d, state(DAY))
    assert c.state is not None
    old = (vix_call(36.0, VX_APR),)
    held = replace(hedge(Layer.L1, old, 4, 400.0), opened_on=LONG_AGO)
    d.book.set_hedges([held])
    new = d.legs_for(Layer.L1, c.state)
    (roll,) = rolls.roll_one(d, c, held, new_legs=new, reasons=(WHY,), why="test", target=6)
    assert isinstance(roll, ProposedOrder)
    close, opening = roll.legs
    assert (roll.contracts, close.position_qty, opening.position_qty) == (2, -2, 3)
    d.book.on_fill(
        Fill(order_ref=roll.order_ref, contracts=2, price=roll.limit_price, ts=datetime.now(UTC))
    )
    after = d.book.get(Layer.L1)
    assert after is not None
    assert (after.legs, after.contracts) == (new, 6)


def test_a_cheap_l2_strike_moves_toward_the_money_until_it_is_worth_the_floor() -> None:
    calm = state(DAY, vix=11.0)  # April future 9: the 1.5-sd call is worth < 0.15
    p = EngineParams()
    free = replace(p.orders, min_premium_pts=0.0)
    (sd_leg,) = l2_legs(calm, p.ladder, p.scenario, free)
    (leg,) = l2_legs(calm, p.ladder, p.scenario, p.orders)
    assert leg.expiry == sd_leg.expiry == VX_APR
    assert leg.strike < sd_leg.strike
    price = hedge_unit((leg,), calm, p.scenario).price
    above = hedge_unit((replace(leg, strike=leg.strike + 1.0),), calm, p.scenario).price
    assert above < p.orders.min_premium_pts <= price


def test_one_order_per_layer_per_session_even_with_an_intraday_big_move() -> None:
    d = desk()
    c = ctx(d)
    assert c.state is not None
    legs = d.legs_for(Layer.L1, c.state)
    held = replace(hedge(Layer.L1, legs, 1, 100.0), opened_on=LONG_AGO)
    d.book.set_hedges([held])
    (first,) = sizing.rebalance(d, c, (Layer.L1,), set(), WHY)  # e.g. a big move at 14:00
    assert isinstance(first, ProposedOrder)
    assert first.intent is OrderIntent.RESIZE
    d.book.set_hedges([held])  # even if the target is still far off at the close ...
    assert sizing.rebalance(d, c, (Layer.L1,), set(), WHY) == []  # ... nothing more today
    tomorrow = ctx(d, state(date(2020, 3, 3)))
    assert [o.layer for o in sizing.rebalance(d, tomorrow, (Layer.L1,), set(), WHY)] == [Layer.L1]
    # the snapshot keeps it across a restart
    other = desk()
    other.load_traded(d.traded_to_dict())
    assert other.has_traded(tomorrow, Layer.L1)
    assert not other.has_traded(c, Layer.L1)
