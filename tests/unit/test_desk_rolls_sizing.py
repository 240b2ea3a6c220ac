"""The order desk, rolls and layer sizing on a synthetic stressed day (2020-03 VX curve).

Each test builds a desk (hedge book, decision ids, the template condor whose credit sets
the SPEC §4 cost cap) and checks what an operator would see: the proposals, their sizes,
the cost-cap alert's counts, and what the sleeve holds afterwards.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import pytest

from daemon.core import orders, rolls, sizing
from daemon.core.model import (
    Action,
    Alert,
    AlertKind,
    Layer,
    OrderIntent,
    ProposedOrder,
    SignalReading,
)
from daemon.core.params import EngineParams
from tests.unit.engine_parts import VX_APR, VX_MAR, ctx, desk, hedge, state, vix_call

WHY = SignalReading(id="test", value=1.0, threshold=0.0, holds=True, detail="test")


def test_a_buy_over_the_cap_is_scaled_down_and_the_alert_comes_first_with_both_counts() -> None:
    d = desk()
    c = ctx(d)
    legs = d.legs_for(Layer.L1, c.state)  # type: ignore[arg-type]
    unit = d.unit(legs, c)
    cap = d.cost_cap_usd
    assert cap > 0.0
    per_unit_usd = orders.limit_price(unit.price, d.params.orders, action=Action.BUY) * 100
    wanted = math.ceil(2 * cap / per_unit_usd)  # twice what fits
    out = d.buy(
        c,
        layer=Layer.L1,
        intent=OrderIntent.OPEN,
        legs=legs,
        unit=unit,
        contracts=wanted,
        contracts_after_if_full=wanted,
        reasons=(WHY,),
        why="test",
    )
    alert, order = out
    assert isinstance(alert, Alert)
    assert alert.kind is AlertKind.COST_CAP
    assert isinstance(order, ProposedOrder)
    assert order.is_capped
    assert f"{wanted} x" in alert.message
    assert f"scaled down to {order.contracts} by the cost cap" in alert.message
    assert 0 < order.contracts < wanted
    assert d.book.open_premium_usd <= cap + 1e-6
    assert d.book.open_premium_usd + order.limit_price * 100 > cap  # one more would not fit
    assert c.is_capped
    assert c.proposals == 1


def test_enforce_cap_sells_l3_first_until_the_cap_holds() -> None:
    d = desk()
    c = ctx(d)
    cap = d.cost_cap_usd
    l1 = (vix_call(31.0, VX_APR),)
    l3 = (vix_call(31.0, VX_APR), vix_call(36.0, VX_APR, -1))
    d.book.set_hedges([hedge(Layer.L1, l1, 100, 0.9 * cap), hedge(Layer.L3, l3, 50, 0.3 * cap)])
    out = d.enforce_cap(c)
    sells = [x for x in out if isinstance(x, ProposedOrder)]
    assert [s.layer for s in sells] == [Layer.L3]
    assert sells[0].action is Action.SELL
    assert sells[0].contracts == math.ceil(50 * (0.2 * cap) / (0.3 * cap) - 1e-9)
    assert d.book.open_premium_usd <= cap + 1e-6
    h1 = d.book.get(Layer.L1)
    assert h1 is not None
    assert h1.contracts == 100  # L1 untouched


def test_a_hedge_inside_roll_dte_is_rolled_in_one_two_leg_proposal() -> None:
    d = desk()
    day = date(2020, 3, 12)  # the March hedge has 6 days left < roll_dte 7
    c = ctx(d, state(day))
    old = (vix_call(25.0, VX_MAR),)
    d.book.set_hedges([hedge(Layer.L1, old, 40, 40 * 150.0)])
    out = rolls.rolls(d, c, skip=set())
    (roll,) = out
    assert isinstance(roll, ProposedOrder)
    assert roll.intent is OrderIntent.ROLL
    assert roll.contracts == 40
    assert roll.legs[0] == replace(old[0], position_qty=-1)
    assert roll.legs[1].expiry == VX_APR
    assert roll.legs[1].position_qty == 1
    assert roll.reasons[0].id == "roll_dte"
    held = d.book.get(Layer.L1)
    assert held is not None
    assert held.legs == roll.legs[1:]
    assert held.contracts == 40
    new_unit = d.unit(roll.legs[1:], c)
    assert held.premium_paid_usd / 40 / 100 == pytest.approx(new_unit.price, abs=0.05)


def test_a_hedge_past_expiry_is_dropped_with_a_roll_alert() -> None:
    d = desk()
    c = ctx(d, state(date(2020, 3, 19)))
    d.book.set_hedges([hedge(Layer.L2, (vix_call(40.0, VX_MAR),), 10, 500.0)])
    (alert,) = rolls.rolls(d, c, skip=set())
    assert isinstance(alert, Alert)
    assert alert.kind is AlertKind.ROLL
    assert "expired without a roll" in alert.message
    assert d.book.hedges == ()


def test_a_roll_the_cap_shrinks_is_one_ratio_roll_and_alerts_with_the_units_opened() -> None:
    d = desk()
    c = ctx(d, state(date(2020, 3, 12)))
    old = (vix_call(25.0, VX_MAR),)
    # the other layer leaves room for only part of the L1 roll
    other = hedge(Layer.L2, (vix_call(45.0, VX_APR),), 10, 0.0)
    d.book.set_hedges([hedge(Layer.L1, old, 400, 1.0), other])
    new_unit = d.unit(d.legs_for(Layer.L1, c.state), c)  # type: ignore[arg-type]
    fits = 150
    limit = orders.limit_price(new_unit.price, d.params.orders, action=Action.BUY)
    spent = d.cost_cap_usd - (fits + 0.5) * limit * 100
    d.book.set_hedges([hedge(Layer.L1, old, 400, 1.0), replace(other, premium_paid_usd=spent)])
    skip: set[Layer] = set()
    out = rolls.rolls(d, c, skip=skip)
    alert, roll = out  # one proposal (issue 10), not a sell and a roll
    assert isinstance(alert, Alert)
    assert alert.kind is AlertKind.COST_CAP
    assert isinstance(roll, ProposedOrder)
    close, new = roll.legs
    # 400 old units into 150 new: gcd 50 combos of −8 old / +3 new
    assert (roll.intent, roll.contracts) == (OrderIntent.ROLL, 50)
    assert (close.position_qty, new.position_qty) == (-8, 3)
    assert roll.action is Action.SELL  # closing 8 old calls pays more than 3 new cost
    assert f"scaled down to {fits}" in alert.message
    assert "400 held rolled into 150" in alert.message
    assert d.has_traded(c, Layer.L1)  # not re-sized again at this close
    held = d.book.get(Layer.L1)
    assert held is not None
    assert (held.contracts, held.legs[0].position_qty) == (fits, 1)
    assert d.book.open_premium_usd <= d.cost_cap_usd + 1e-6


def test_l2_target_counts_what_l1_already_covers_and_l3_adds_15pct() -> None:
    d = desk()
    c = ctx(d)
    assert c.risk is not None
    assert c.state is not None
    loss = c.risk.scenario_loss_usd
    assert loss > 0.0
    lp = d.params.ladder
    l2_legs = d.legs_for(Layer.L2, c.state)
    l2_unit = d.unit(l2_legs, c)
    alone = sizing.target_contracts(d, Layer.L2, l2_unit, c)
    l1_legs = d.legs_for(Layer.L1, c.state)
    l1_n = sizing.target_contracts(d, Layer.L1, d.unit(l1_legs, c), c)
    d.book.set_hedges([hedge(Layer.L1, l1_legs, l1_n, 1.0)])
    g1, _ = sizing.held_gain_and_delta(d, (Layer.L1,), c)
    assert g1 >= lp.l1_cover_frac * loss
    with_l1 = sizing.target_contracts(d, Layer.L2, l2_unit, c)
    assert with_l1 < alone
    l3_unit = d.unit(d.legs_for(Layer.L3, c.state), c)
    l3_n = sizing.target_contracts(d, Layer.L3, l3_unit, c)
    assert l3_n == math.ceil(lp.l3_notional_add_frac * g1 / l3_unit.gain_usd - 1e-9)


def test_the_rebalance_band_leaves_a_small_difference_alone() -> None:
    d = desk(EngineParams())
    c = ctx(d)
    assert c.state is not None
    legs = d.legs_for(Layer.L1, c.state)
    target = sizing.target_contracts(d, Layer.L1, d.unit(legs, c), c)
    held_n = math.ceil(target / 1.1)  # within the 20% band
    d.book.set_hedges([hedge(Layer.L1, legs, held_n, 1.0)])
    assert sizing.rebalance(d, c, (Layer.L1,), set(), WHY) == []
    # outside a band of 0 the same difference is bought
    d0 = desk(replace(EngineParams(), ladder=replace(EngineParams().ladder, rebalance_band_frac=0)))
    c0 = ctx(d0)
    d0.book.set_hedges([hedge(Layer.L1, legs, held_n, 1.0)])
    (buy,) = sizing.rebalance(d0, c0, (Layer.L1,), set(), WHY)
    assert isinstance(buy, ProposedOrder)
    assert (buy.intent, buy.contracts) == (OrderIntent.RESIZE, target - held_n)
