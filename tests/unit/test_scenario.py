"""SPEC §5 scenario, SPEC §4 hedge instruments and sizing, on real 2020-02-14 closes.

2020-02-14 is the last calm Friday before the February–March 2020 crash: SPX 3380.16,
VIX 13.68, VX futures 14.425 (Feb 19), 15.425 (Mar 18), 16.125 (Apr 15), 16.325 (May 20).
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.core.hedge_pricing import (
    HedgeUnit,
    hedge_unit,
    mark_hedge_usd,
    size_layer,
    units_within_budget,
)
from daemon.core.model import HedgePosition, Layer, Right
from daemon.core.params import CondorTemplate, LadderParams, OrderParams, ScenarioParams
from daemon.core.pricing import black76_greeks
from daemon.core.scenario import (
    MarketState,
    condor_risk,
    future_for_expiry,
    open_template_condor,
    spx_pct_per_vix_pt_used,
)
from daemon.core.strikes import l1_legs, l2_legs, l3_legs
from daemon.errors import InvariantViolation

SESSION = date(2020, 2, 14)
SCEN = ScenarioParams()
LADDER = LadderParams()
ORDERS = OrderParams()
TEMPLATE = CondorTemplate()


def _close(market_dir: Path, name: str, day: date) -> float:
    df = pd.read_csv(market_dir / name, index_col="date")
    return float(df["close"].loc[day.isoformat()])


@pytest.fixture(scope="module")
def state(market_dir: Path) -> MarketState:
    """Real closes of 2020-02-14 and the first four listed VX futures' settlements."""
    vx = pd.read_csv(market_dir / "vix_futures_front4_daily.csv")
    rows = vx[vx["date"] == SESSION.isoformat()].sort_values("expiry")
    curve = tuple(
        (date.fromisoformat(e), float(s))
        for e, s in zip(rows["expiry"], rows["settle"], strict=True)
    )
    return MarketState(
        session_date=SESSION,
        spx=_close(market_dir, "spx_daily.csv", SESSION),
        iwm=_close(market_dir, "iwm_daily.csv", SESSION),
        vix=_close(market_dir, "vix_daily.csv", SESSION),
        vx_curve=curve,
        spx_pct_per_vix_pt=None,
        beta_iwm_spx=None,
    )


def test_fixture_is_the_real_2020_02_14(state: MarketState) -> None:
    assert state.spx == pytest.approx(3380.16)
    assert state.vix == pytest.approx(13.68)
    assert state.vx_curve[1][0] == date(2020, 3, 18)
    assert state.vx_curve[1][1] == pytest.approx(15.425)


# --------------------------------------------------------------------------- market state


def test_future_for_expiry_exact_interpolated_and_flat(state: MarketState) -> None:
    assert future_for_expiry(state, date(2020, 3, 18)) == pytest.approx(15.425)
    # halfway (14 of 28 days) between Mar 18 (15.425) and Apr 15 (16.125)
    assert future_for_expiry(state, date(2020, 4, 1)) == pytest.approx(15.775)
    assert future_for_expiry(state, date(2020, 2, 15)) == pytest.approx(14.425)  # flat before
    assert future_for_expiry(state, date(2020, 12, 16)) == pytest.approx(16.325)  # flat after
    assert future_for_expiry(replace(state, vx_curve=()), date(2020, 3, 18)) == state.vix


@pytest.mark.parametrize(
    "kwargs",
    [
        {"spx": 0.0},
        {"vix": math.nan},
        {"iwm": -1.0},
        {"vx_curve": ((date(2020, 3, 18), 15.0), (date(2020, 2, 19), 14.0))},
        {"vx_curve": ((date(2020, 3, 18), 15.0), (date(2020, 3, 18), 14.0))},
        {"vx_curve": ((date(2020, 3, 18), 0.0),)},
        {"spx_pct_per_vix_pt": math.inf},
    ],
)
def test_market_state_rejects_bad_values(kwargs: dict[str, object]) -> None:
    base: dict[str, object] = {"session_date": SESSION, "spx": 3380.0, "iwm": 168.0, "vix": 13.7}
    base.update(kwargs)
    with pytest.raises(InvariantViolation):
        MarketState(**base)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- condor


def test_template_condor_strikes_expiry_and_credit(state: MarketState) -> None:
    c = open_template_condor(state, TEMPLATE, SCEN)
    # 45 days out is 2020-03-30: the closest 3rd Friday is 2020-03-20 (10 d) not 04-17 (18 d)
    assert c.expiry == date(2020, 3, 20)
    assert c.short_put_strike == 3175.0  # 3380.16 × 0.94 = 3177.35, rounded down to 5
    assert c.long_put_strike == 3125.0
    assert c.short_call_strike == 3520.0  # 3380.16 × 1.04 = 3515.37, rounded up to 5
    assert c.long_call_strike == 3570.0
    assert (c.contracts, c.multiplier, c.opened_on) == (10, 100, SESSION)
    # a credit, and less than the 50-point wing (a condor can never pay more than its width)
    assert 0.0 < c.net_credit < c.wing_width_pts
    assert c.break_even_low == pytest.approx(3175.0 - c.net_credit)


def test_template_condor_without_premium_is_refused(state: MarketState) -> None:
    with pytest.raises(InvariantViolation, match="credit"):
        open_template_condor(replace(state, vix=1e-4), TEMPLATE, SCEN)


def test_beta_floor_applies_only_while_history_is_short_by_default(state: MarketState) -> None:
    # SPEC §5.2: "a config floor applies when history is short" (the slope is None).
    assert spx_pct_per_vix_pt_used(state, SCEN) == SCEN.spx_pct_per_vix_pt_floor
    assert spx_pct_per_vix_pt_used(replace(state, spx_pct_per_vix_pt=-0.2), SCEN) == -0.2
    assert spx_pct_per_vix_pt_used(replace(state, spx_pct_per_vix_pt=-0.9), SCEN) == -0.9


def test_beta_floor_always_is_the_least_bearish_allowed(state: MarketState) -> None:
    always = replace(SCEN, beta_floor_always=True)
    assert spx_pct_per_vix_pt_used(state, always) == always.spx_pct_per_vix_pt_floor
    assert spx_pct_per_vix_pt_used(replace(state, spx_pct_per_vix_pt=-0.2), always) == -0.5
    assert spx_pct_per_vix_pt_used(replace(state, spx_pct_per_vix_pt=-0.9), always) == -0.9
    assert spx_pct_per_vix_pt_used(replace(state, spx_pct_per_vix_pt=0.3), always) == -0.5
    risk = condor_risk(None, 0.0, replace(state, spx_pct_per_vix_pt=-0.2), always)
    assert risk.is_beta_floor_bound
    assert not condor_risk(
        None, 0.0, replace(state, spx_pct_per_vix_pt=-0.2), SCEN
    ).is_beta_floor_bound


def test_scenario_loses_on_the_condor_and_the_satellite(state: MarketState) -> None:
    condor = open_template_condor(state, TEMPLATE, SCEN)
    risk = condor_risk(condor, 100_000.0, replace(state, beta_iwm_spx=1.3), SCEN)
    assert risk.spx_move_pct == pytest.approx(-3.0)  # floor −0.5 %/pt × 6 pts
    assert risk.iwm_move_pct == pytest.approx(-3.9)  # β(IWM,SPX) 1.3 × −3 %
    assert risk.satellite_loss_usd == pytest.approx(3_900.0)
    assert risk.value_usd == pytest.approx(-condor.credit_usd)  # marked at the opening model
    assert risk.value_after_usd < risk.value_usd  # the short condor is worth less to us
    assert risk.condor_loss_usd > 0.0
    assert risk.scenario_loss_usd == pytest.approx(risk.condor_loss_usd + 3_900.0)
    # the loss is bounded by the max loss of the condor (width − credit) plus the satellite
    max_loss = (condor.wing_width_pts - condor.net_credit) * 100 * condor.contracts
    assert risk.condor_loss_usd < max_loss
    assert risk.condor_vega_usd_per_pt > 0.0


def test_steeper_beta_means_a_bigger_loss(state: MarketState) -> None:
    condor = open_template_condor(state, TEMPLATE, SCEN)
    mild = condor_risk(condor, 0.0, state, SCEN)
    steep = condor_risk(condor, 0.0, replace(state, spx_pct_per_vix_pt=-1.0), SCEN)
    assert steep.spx_move_pct == pytest.approx(-6.0)
    assert steep.scenario_loss_usd > mild.scenario_loss_usd > 0.0


def test_satellite_only_and_loss_floor(state: MarketState) -> None:
    risk = condor_risk(None, 50_000.0, state, SCEN)
    assert risk.scenario_loss_usd == pytest.approx(1_500.0)
    assert risk.condor_vega_usd_per_pt == 0.0
    # a rally scenario (positive β) would be a gain for the satellite: L is floored at 0
    up = condor_risk(None, 50_000.0, state, replace(SCEN, spx_pct_per_vix_pt_floor=0.5))
    assert up.scenario_loss_usd == 0.0
    with pytest.raises(InvariantViolation):
        condor_risk(None, -1.0, state, SCEN)


# --------------------------------------------------------------------------- instruments


def test_l1_is_the_front_call_two_points_over_the_future(state: MarketState) -> None:
    (leg,) = l1_legs(state, LADDER, SCEN, ORDERS)
    # Feb 19 has 5 DTE < 14, so the front eligible expiry is Mar 18 (F = 15.425)
    assert leg.expiry == date(2020, 3, 18)
    assert leg.strike == 18.0  # 15.425 + 2 = 17.425, rounded up to the 1-pt grid
    assert (leg.right, leg.position_qty, leg.multiplier, leg.trading_class) == (
        Right.CALL,
        1,
        100,
        "VIX",
    )


def test_l2_is_a_one_and_a_half_sd_call_in_the_30_60_day_window(state: MarketState) -> None:
    (leg,) = l2_legs(state, LADDER, SCEN, replace(ORDERS, min_premium_pts=0.0))
    assert leg.expiry == date(2020, 3, 18)  # 33 DTE; Apr 15 would be 61
    t = (leg.expiry - SESSION).days / 365
    raw = 15.425 * math.exp(1.5 * 0.9 * math.sqrt(t))
    assert raw <= leg.strike < raw + 1.0
    assert leg.strike == 24.0


def test_l2_falls_back_to_first_expiry_past_min_dte(state: MarketState) -> None:
    narrow = replace(LADDER, l2_min_dte=34, l2_max_dte=40)  # no expiry has 34..40 DTE
    (leg,) = l2_legs(state, narrow, SCEN, ORDERS)
    assert leg.expiry == date(2020, 4, 15)


def test_l3_is_a_defined_risk_call_spread(state: MarketState) -> None:
    long_leg, short_leg = l3_legs(state, LADDER, SCEN, ORDERS)
    assert (long_leg.strike, long_leg.position_qty) == (18.0, 1)
    assert (short_leg.strike, short_leg.position_qty) == (23.0, -1)
    assert long_leg.expiry == short_leg.expiry == date(2020, 3, 18)
    spread = hedge_unit((long_leg, short_leg), state, SCEN)
    call = hedge_unit((long_leg,), state, SCEN)
    assert 0.0 < spread.price < call.price  # the short call finances part of it
    assert 0.0 < spread.gain_usd < call.gain_usd
    assert spread.gain_usd <= 5.0 * 100  # never more than the width × multiplier


# --------------------------------------------------------------------------- hedge pricing


def test_hedge_unit_prices_on_the_future_not_spot(state: MarketState) -> None:
    legs = l1_legs(state, LADDER, SCEN, ORDERS)
    unit = hedge_unit(legs, state, SCEN)
    t = (date(2020, 3, 18) - SESSION).days / 365
    on_future = black76_greeks(
        future=15.425, strike=18, t_years=t, rate=0.04, iv=0.9, right=Right.CALL
    )
    assert unit.price == pytest.approx(on_future.price)
    assert unit.premium_usd == pytest.approx(on_future.price * 100)
    assert unit.future_pts == pytest.approx(15.425)
    assert unit.vx_future_move_pts == pytest.approx(0.7 * 6.0)
    assert len(unit.break_evens) == 1
    assert unit.break_evens[0] == pytest.approx(18.0 + on_future.price)
    assert unit.vix_delta_usd_per_pt == pytest.approx(on_future.delta * 0.7 * 100)


def test_small_shock_gain_matches_vix_delta(state: MarketState) -> None:
    legs = l3_legs(state, LADDER, SCEN, ORDERS)
    tiny = replace(SCEN, vix_shock_pts=1e-4)
    unit = hedge_unit(legs, state, tiny)
    assert unit.gain_usd / 1e-4 == pytest.approx(unit.vix_delta_usd_per_pt, rel=1e-3)


def test_half_cover_hedge_covers_half_the_scenario_loss(state: MarketState) -> None:
    """The SPEC §4 L1 target: sized at 50 %, the hedge's scenario gain covers >= 50 % of L."""
    condor = open_template_condor(state, TEMPLATE, SCEN)
    risk = condor_risk(condor, 100_000.0, state, SCEN)
    assert risk.scenario_loss_usd > 0.0
    unit = hedge_unit(l1_legs(state, LADDER, SCEN, ORDERS), state, SCEN)
    target = LADDER.l1_cover_frac * risk.scenario_loss_usd
    n = size_layer(target_gain_usd=target, vega_target_usd_per_pt=0.0, unit=unit)
    assert n * unit.gain_usd >= target
    assert (n - 1) * unit.gain_usd < target  # and no more than needed
    # with the vega check on, at least as many units and the VIX-delta target is met
    vega_target = LADDER.l1_vega_multiplier * risk.condor_vega_usd_per_vix_pt
    m = size_layer(target_gain_usd=target, vega_target_usd_per_pt=vega_target, unit=unit)
    assert m >= n
    assert m * unit.vix_delta_usd_per_pt >= vega_target
    # the same hedge, revalued after the shock, is worth n × gain more (it is the scenario)
    held = HedgePosition(
        layer=Layer.L1,
        legs=unit.legs,
        contracts=n,
        premium_paid_usd=n * unit.premium_usd,
        order_ref="alvh:L1:open:20200318:18:x",
        opened_on=SESSION,
    )
    before = mark_hedge_usd(held, state, SCEN)
    shocked_curve = tuple((e, f + 0.7 * 6.0) for e, f in state.vx_curve)
    after = mark_hedge_usd(held, replace(state, vix=state.vix + 6, vx_curve=shocked_curve), SCEN)
    assert before == pytest.approx(n * unit.premium_usd)
    assert after - before == pytest.approx(n * unit.gain_usd)
    assert (after - before) / risk.scenario_loss_usd >= LADDER.l1_cover_frac


def test_mark_is_intrinsic_at_expiry(state: MarketState) -> None:
    legs = l3_legs(state, LADDER, SCEN, ORDERS)
    held = HedgePosition(
        layer=Layer.L3,
        legs=legs,
        contracts=3,
        premium_paid_usd=100.0,
        order_ref="r",
        opened_on=SESSION,
    )
    at_expiry = MarketState(
        session_date=date(2020, 3, 18),
        spx=2400.0,
        iwm=110.0,
        vix=76.0,
        vx_curve=((date(2020, 3, 18), 21.0),),
    )
    # 18/23 call spread with the future at 21: 3 points × 100 × 3 units
    assert mark_hedge_usd(held, at_expiry, SCEN) == pytest.approx(900.0)


def test_hedge_unit_rejects_mixed_expiries(state: MarketState) -> None:
    (a,) = l1_legs(state, LADDER, SCEN, ORDERS)
    b = replace(a, expiry=date(2020, 4, 15))
    with pytest.raises(InvariantViolation):
        hedge_unit((a, b), state, SCEN)
    with pytest.raises(InvariantViolation):
        hedge_unit((), state, SCEN)


# --------------------------------------------------------------------------- sizing properties


def _unit(gain: float, delta: float, premium: float = 100.0) -> HedgeUnit:
    return HedgeUnit(
        legs=(),
        price=premium / 100,
        premium_usd=premium,
        gain_usd=gain,
        vix_delta_usd_per_pt=delta,
        expiry=date(2020, 3, 18),
        future_pts=15.0,
        future_source="vx_future",
        vx_future_move_pts=4.2,
        break_evens=(),
    )


positive = st.floats(min_value=1e-2, max_value=1e7, allow_nan=False)


@given(
    target=positive, vega=st.floats(min_value=-1e6, max_value=1e6), gain=positive, delta=positive
)
def test_size_layer_meets_both_targets_minimally(
    target: float, vega: float, gain: float, delta: float
) -> None:
    n = size_layer(target_gain_usd=target, vega_target_usd_per_pt=vega, unit=_unit(gain, delta))
    assert n >= 0
    assert n * gain >= target * (1 - 1e-9)
    if vega > 0:
        assert n * delta >= vega * (1 - 1e-9)
    # minimal: one unit fewer misses at least one of the targets
    assert (n - 1) * gain < target or (vega > 0 and (n - 1) * delta < vega)


@given(
    target=st.floats(min_value=-1e7, max_value=0.0), gain=st.floats(min_value=-10.0, max_value=10.0)
)
def test_size_layer_is_zero_without_targets(target: float, gain: float) -> None:
    assert (
        size_layer(target_gain_usd=target, vega_target_usd_per_pt=0.0, unit=_unit(gain, 0.0)) == 0
    )


@pytest.mark.parametrize("gain", [0.0, -5.0, math.nan])
def test_size_layer_refuses_a_hedge_that_does_not_pay(gain: float) -> None:
    with pytest.raises(InvariantViolation):
        size_layer(target_gain_usd=1000.0, vega_target_usd_per_pt=0.0, unit=_unit(gain, 1.0))
    with pytest.raises(InvariantViolation):
        size_layer(target_gain_usd=0.0, vega_target_usd_per_pt=10.0, unit=_unit(1.0, gain))


@given(budget=st.floats(min_value=-1e6, max_value=1e8), premium=positive)
def test_units_within_budget_is_the_largest_affordable(budget: float, premium: float) -> None:
    n = units_within_budget(budget_usd=budget, unit=_unit(1.0, 1.0, premium))
    assert n >= 0
    if budget <= 0:
        assert n == 0
    else:
        assert n * premium <= budget * (1 + 1e-9)
        assert (n + 1) * premium > budget * (1 - 1e-9)


@given(
    target=positive, gain=positive, budget=st.floats(min_value=0.0, max_value=1e7), premium=positive
)
def test_cap_never_exceeds_budget_or_target(
    target: float, gain: float, budget: float, premium: float
) -> None:
    unit = _unit(gain, 1.0, premium)
    wanted = size_layer(target_gain_usd=target, vega_target_usd_per_pt=0.0, unit=unit)
    capped = min(wanted, units_within_budget(budget_usd=budget, unit=unit))
    assert capped <= wanted
    assert capped * premium <= budget * (1 + 1e-9)
