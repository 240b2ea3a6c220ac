"""Hedge units priced now and in the SPEC §5 scenario, their sizing and marks.

* :func:`hedge_unit`: one unit of a layer's instrument (:mod:`daemon.core.strikes`)
  priced with **Black-76 on the VX future of its own expiry**
  (:func:`daemon.core.scenario.future_and_source`, the fallback named), ``iv =
  scenario.vix_option_iv``, now and after the future moves by ``ρ · Δ``
  (``vx_beta_to_spot × vix_shock_pts``; instantaneous: same iv and time);
* :func:`size_layer`: the SPEC §5.6 units of a layer, before the cost cap, and
  :func:`units_within_budget`: the units a premium budget allows (the cost cap);
* :func:`mark_hedge_usd`: the model mark of a held hedge, USD.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from daemon.core.fastinit import fast_init
from daemon.core.model import HedgePosition, OptionLeg, Right
from daemon.core.params import ScenarioParams
from daemon.core.pricing import Greeks, black76_greeks, black76_price_delta_pair
from daemon.core.scenario import (
    GRID_EPS,
    MarketState,
    future_and_source,
    future_for_expiry,
    year_fraction,
)
from daemon.errors import InvariantViolation

# enum members as module constants: a class attribute lookup costs ~65 ns on the hot
# paths (issue 9)
_RIGHT_CALL = Right.CALL

__all__ = ["HedgeUnit", "hedge_unit", "mark_hedge_usd", "size_layer", "units_within_budget"]


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class HedgeUnit:
    """One hedge unit (the legs of one combo) priced now and in the scenario.

    Attributes:
        legs: the legs per unit (signed ``position_qty``).
        price: net debit per share now, index points (>= 0; a call or a call spread).
        premium_usd: cost of one unit, USD (``price × multiplier``).
        gain_usd: scenario gain of one unit, USD (value after the VX move − value now).
        vix_delta_usd_per_pt: USD P&L of one unit per spot-VIX point
            (Σ delta_fut × ρ × multiplier × qty).
        expiry: the (common) expiry of the legs.
        future_pts: VX future used for the expiry, points.
        future_source: the rule that gave ``future_pts``
            (:func:`~daemon.core.scenario.future_and_source`).
        vx_future_move_pts: the scenario move of that future, ``ρ × Δ``, points.
        break_evens: per leg, at expiry: strike + that leg's premium for calls, strike −
            premium for puts (SPEC §5.7), points.
    """

    legs: tuple[OptionLeg, ...]
    price: float
    premium_usd: float
    gain_usd: float
    vix_delta_usd_per_pt: float
    expiry: date
    future_pts: float
    future_source: str
    vx_future_move_pts: float
    break_evens: tuple[float, ...]
    price_source: str = "model"
    """``"market"`` when ``price`` is the quoted mid (and the IV the market's), else
    ``"model"`` (Black-76 at ``vix_option_iv``)."""
    market_iv: float | None = None
    """The quoted IV (decimal) the unit was priced with, or None (``vix_option_iv``)."""


def _vix_leg_greeks(
    leg: OptionLeg, future: float, state: MarketState, params: ScenarioParams
) -> Greeks:
    """Black-76 greeks of one long VIX option per share at ``future``."""
    return black76_greeks(
        future=future,
        strike=leg.strike,
        t_years=year_fraction(state.session_date, leg.expiry),
        rate=params.risk_free_rate,
        iv=params.vix_option_iv,
        right=leg.right,
    )


def hedge_unit(legs: Sequence[OptionLeg], state: MarketState, params: ScenarioParams) -> HedgeUnit:
    """Price one hedge unit now and after the SPEC §5 shock (Black-76 on the VX future).

    Each leg uses the VX future of its expiry
    (:func:`~daemon.core.scenario.future_for_expiry`), ``iv = params.vix_option_iv`` and
    ``rate = params.risk_free_rate``. Scenario: the future moves by ``ρ × Δ``
    (``vx_beta_to_spot × vix_shock_pts``), same iv and time (instantaneous).

    Args:
        legs: legs of one unit, sharing one expiry (signed ``position_qty`` per unit).
        state: market state.
        params: scenario parameters.

    Returns:
        The priced :class:`HedgeUnit`.

    Raises:
        InvariantViolation: no legs, or legs with different expiries.
    """
    if not legs:
        msg = "a hedge unit needs at least one leg"
        raise InvariantViolation(msg)
    expiry = legs[0].expiry
    for leg in legs:  # a loop, not any() over a generator (every unit priced; issue 9)
        if leg.expiry == expiry:
            continue
        msg = f"hedge legs must share one expiry: {[leg.expiry for leg in legs]}"
        raise InvariantViolation(msg)
    future, source = future_and_source(state, expiry)
    move = params.vx_beta_to_spot * params.vix_shock_pts
    price = value_usd = value_after_usd = vix_delta = premium_usd = 0.0
    break_evens: list[float] = []
    rate, iv = params.risk_free_rate, params.vix_option_iv
    t_years = year_fraction(state.session_date, expiry)  # every leg's expiry
    future_after = max(future + move, 1e-9)
    for leg in legs:
        # price and delta only: the same floats as black76_greeks' (issue 9)
        now_price, now_delta, after_price = black76_price_delta_pair(
            future, future_after, leg.strike, t_years, rate, iv, leg.right
        )
        price += leg.position_qty * now_price
        now_usd = leg.position_qty * now_price * leg.multiplier  # one product, added twice
        premium_usd += now_usd
        value_usd += now_usd
        value_after_usd += leg.position_qty * after_price * leg.multiplier
        vix_delta += now_delta * params.vx_beta_to_spot * leg.multiplier * leg.position_qty
        sign = 1.0 if leg.right is _RIGHT_CALL else -1.0
        break_evens.append(leg.strike + sign * now_price)
    return HedgeUnit(
        legs=tuple(legs),
        price=price,
        premium_usd=premium_usd,
        gain_usd=value_after_usd - value_usd,
        vix_delta_usd_per_pt=vix_delta,
        expiry=expiry,
        future_pts=future,
        future_source=source,
        vx_future_move_pts=move,
        break_evens=tuple(break_evens),
    )


def _ceil_ratio(numerator: float, denominator: float) -> int:
    """ceil(numerator / denominator), tolerant of float error just above an integer.

    A ratio within a relative ``GRID_EPS`` of a whole number n ≥ 1 counts as n (so
    3.0000000001 units is 3, not 4); any other positive ratio rounds up, so a positive
    target never sizes to 0 units.
    """
    ratio = numerator / denominator
    if ratio <= 0.0:
        return 0
    nearest = round(ratio)
    if nearest >= 1 and abs(ratio - nearest) <= GRID_EPS * nearest:
        return int(nearest)
    return math.ceil(ratio)


def size_layer(*, target_gain_usd: float, vega_target_usd_per_pt: float, unit: HedgeUnit) -> int:
    """Units needed for a layer (SPEC §5.6), before the cost cap.

    ``max(ceil(target_gain / gain per unit), ceil(vega_target / VIX delta per unit))``; a
    term whose target is <= 0 contributes 0.

    Args:
        target_gain_usd: scenario gain wanted from the layer, USD (cover fraction × L).
        vega_target_usd_per_pt: VIX-delta wanted, USD per VIX point (vega multiplier ×
            condor vega converted to VIX points).
        unit: the priced hedge unit.

    Returns:
        Units (>= 0).

    Raises:
        InvariantViolation: a positive target with a non-positive (or non-finite) gain or
            VIX delta per unit, or a non-finite target.
    """
    for label, value in (
        ("target_gain_usd", target_gain_usd),
        ("vega_target_usd_per_pt", vega_target_usd_per_pt),
    ):
        if not math.isfinite(value):
            msg = f"{label} must be finite, got {value!r}"
            raise InvariantViolation(msg)
    by_gain = by_vega = 0
    if target_gain_usd > 0.0:
        if not (math.isfinite(unit.gain_usd) and unit.gain_usd > 0.0):
            msg = (
                f"hedge unit has no scenario gain ({unit.gain_usd!r}) for target {target_gain_usd}"
            )
            raise InvariantViolation(msg)
        by_gain = _ceil_ratio(target_gain_usd, unit.gain_usd)
    if vega_target_usd_per_pt > 0.0:
        if not (math.isfinite(unit.vix_delta_usd_per_pt) and unit.vix_delta_usd_per_pt > 0.0):
            msg = (
                f"hedge unit has no VIX delta ({unit.vix_delta_usd_per_pt!r}) "
                f"for target {vega_target_usd_per_pt}"
            )
            raise InvariantViolation(msg)
        by_vega = _ceil_ratio(vega_target_usd_per_pt, unit.vix_delta_usd_per_pt)
    return max(by_gain, by_vega)


def units_within_budget(*, budget_usd: float, unit: HedgeUnit) -> int:
    """Largest number of units whose premium fits a budget (the SPEC §4 cost cap helper).

    Args:
        budget_usd: premium still allowed, USD (<= 0 → 0 units).
        unit: the priced hedge unit (``premium_usd`` per unit).

    Returns:
        ``floor(budget / premium per unit)``, >= 0; 0 for a non-positive budget.

    Raises:
        InvariantViolation: non-positive premium per unit with a positive budget (a free
            hedge unit means bad inputs).
    """
    if not math.isfinite(budget_usd) or budget_usd <= 0.0:
        return 0
    if not (math.isfinite(unit.premium_usd) and unit.premium_usd > 0.0):
        msg = f"hedge unit premium must be > 0, got {unit.premium_usd!r}"
        raise InvariantViolation(msg)
    return max(0, math.floor(budget_usd / unit.premium_usd + GRID_EPS))


def mark_hedge_usd(position: HedgePosition, state: MarketState, params: ScenarioParams) -> float:
    """Mark-to-market of one layer's hedge (the Second Engine sleeve), USD.

    Black-76 at the VX future of the expiry, ``iv = params.vix_option_iv`` (model mark; no
    option quotes in the core). At or past expiry the legs are worth their intrinsic value
    against the future.

    Args:
        position: the held hedge (legs per unit, units held).
        state: market state.
        params: scenario parameters.

    Returns:
        Σ qty × price × multiplier × contracts, USD (positive for a net long position).
    """
    total = 0.0
    for leg in position.legs:
        future = future_for_expiry(state, leg.expiry)
        greeks = _vix_leg_greeks(leg, future, state, params)
        total += leg.position_qty * greeks.price * leg.multiplier * position.contracts
    return total
