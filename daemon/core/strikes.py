"""Hedge instruments (SPEC §4): the legs of one unit of each layer, and their strikes.

* L1 (:func:`l1_legs`): one short-dated VIX call: the front monthly expiry with DTE >=
  ``ladder.l1_min_dte``, strike VX future + ``ladder.l1_strike_otm_pts`` rounded up;
* L2 (:func:`l2_legs`): one VIX call of the first expiry with DTE in [``l2_min_dte``,
  ``l2_max_dte``], at an ``l2_strike_sd``-standard-deviation strike (moved toward the money
  while it is worth less than ``orders.min_premium_pts``: no lottery tickets);
* L3 (:func:`l3_legs`): one VIX call spread, L1's expiry and long strike, the short call
  ``l3_spread_width_pts`` higher.

Every strike is rounded UP to the ``scenario.vix_strike_step_pts`` grid, or, with a
:class:`~daemon.core.listing.StrikeListing`, snapped to the smallest listed strike at or
above its target. The VX future of an expiry is :func:`daemon.core.scenario.future_for_expiry`'s.
"""

from __future__ import annotations

import math
from datetime import date

from daemon.core.expiries import vix_expiries_after
from daemon.core.listing import StrikeListing, listed_at_or_above, listed_below
from daemon.core.model import OptionLeg, Right
from daemon.core.params import LadderParams, OrderParams, ScenarioParams
from daemon.core.pricing import black76_greeks
from daemon.core.scenario import MarketState, future_for_expiry, round_up_to_step, year_fraction
from daemon.errors import InvariantViolation

__all__ = ["VIX_TRADING_CLASS", "l1_legs", "l2_legs", "l3_legs"]

VIX_TRADING_CLASS = "VIX"
"""Trading class of standard monthly VIX options."""

_EXPIRY_SEARCH = 24
"""How many monthly expiries ahead are searched for a layer's expiry."""


def _dte(state: MarketState, expiry: date) -> int:
    """Calendar days from the session date to ``expiry``."""
    return (expiry - state.session_date).days


def _short_dated_expiry(state: MarketState, ladder: LadderParams) -> date:
    """Front VIX expiry with DTE >= ``l1_min_dte`` (L1 and L3 rule, SPEC §4)."""
    for expiry in vix_expiries_after(state.session_date, _EXPIRY_SEARCH):
        if _dte(state, expiry) >= ladder.l1_min_dte:
            return expiry
    msg = f"no VIX expiry with DTE >= {ladder.l1_min_dte} within {_EXPIRY_SEARCH} months"
    raise InvariantViolation(msg)


def _l2_expiry(state: MarketState, ladder: LadderParams) -> date:
    """First VIX expiry with DTE in [l2_min_dte, l2_max_dte], else the first >= min."""
    expiries = vix_expiries_after(state.session_date, _EXPIRY_SEARCH)
    for expiry in expiries:
        if ladder.l2_min_dte <= _dte(state, expiry) <= ladder.l2_max_dte:
            return expiry
    for expiry in expiries:
        if _dte(state, expiry) >= ladder.l2_min_dte:
            return expiry
    msg = f"no VIX expiry with DTE >= {ladder.l2_min_dte} within {_EXPIRY_SEARCH} months"
    raise InvariantViolation(msg)


def _vix_call(strike: float, expiry: date, qty: int, orders: OrderParams) -> OptionLeg:
    """One VIX call leg per unit."""
    return OptionLeg(
        right=Right.CALL,
        strike=strike,
        expiry=expiry,
        position_qty=qty,
        multiplier=orders.vix_option_multiplier,
        trading_class=VIX_TRADING_CLASS,
    )


def _snap(target: float, step: float, listing: StrikeListing | None) -> float:
    """The target rounded UP to the grid, or to the smallest listed strike >= it."""
    if listing is None:
        return round_up_to_step(target, step)
    return listed_at_or_above(listing, target)


def _l1_strike(
    state: MarketState,
    expiry: date,
    ladder: LadderParams,
    step: float,
    listing: StrikeListing | None = None,
) -> float:
    """VX future + ``l1_strike_otm_pts``, rounded UP to the strike grid (or listing)."""
    return _snap(future_for_expiry(state, expiry) + ladder.l1_strike_otm_pts, step, listing)


def l1_legs(
    state: MarketState,
    ladder: LadderParams,
    scenario: ScenarioParams,
    orders: OrderParams,
    listing: StrikeListing | None = None,
) -> tuple[OptionLeg, ...]:
    """L1 instrument (SPEC §4): one short-dated VIX call per unit.

    Expiry: the front monthly VIX expiry with DTE >= ``ladder.l1_min_dte`` (14). Strike:
    the VX future of that expiry + ``ladder.l1_strike_otm_pts``, rounded UP to
    ``scenario.vix_strike_step_pts``.

    Args:
        state: market state (VX curve).
        ladder: ladder parameters.
        scenario: scenario parameters (strike grid).
        orders: order parameters (VIX option multiplier).
        listing: listed strikes; when given, the strike is the smallest listed one at or
            above the target instead of the grid's.

    Returns:
        ``(long call,)`` with ``position_qty = +1``.

    Raises:
        InvariantViolation: no expiry found.
    """
    expiry = _short_dated_expiry(state, ladder)
    strike = _l1_strike(state, expiry, ladder, scenario.vix_strike_step_pts, listing)
    return (_vix_call(strike, expiry, 1, orders),)


def l2_legs(
    state: MarketState,
    ladder: LadderParams,
    scenario: ScenarioParams,
    orders: OrderParams,
    listing: StrikeListing | None = None,
) -> tuple[OptionLeg, ...]:
    """L2 instrument (SPEC §4): one VIX call at a 1.5-standard-deviation strike per unit.

    Expiry: the first monthly VIX expiry with DTE in [``l2_min_dte``, ``l2_max_dte``]
    (30–60), else the first with DTE >= ``l2_min_dte`` (monthlies are 28–35 days apart, so
    when the one after a 29-DTE expiry lies at 62–64 days, that one). Strike:
    ``F × exp(l2_strike_sd × vix_option_iv × √T)`` rounded UP to the strike grid — the
    future (of that expiry) after an ``l2_strike_sd``-sigma move of ln F over the option's
    life under the Black-76 lognormal model (the −σ²T/2 drift of the median is ignored:
    the strike sits at ``k`` sd of the log-return, a slightly conservative, further-OTM
    choice). When that call is worth less than ``orders.min_premium_pts``, the strike moves
    down the grid until it is (never below the at-the-money strike).

    Args:
        state: market state (VX curve).
        ladder: ladder parameters (``l2_strike_sd``, DTE window).
        scenario: scenario parameters (``vix_option_iv``, strike grid).
        orders: order parameters (VIX option multiplier).
        listing: listed strikes (snap the target up to one), or None for the grid.

    Returns:
        ``(long call,)`` with ``position_qty = +1``.

    Raises:
        InvariantViolation: no expiry found.
    """
    expiry = _l2_expiry(state, ladder)
    future = future_for_expiry(state, expiry)
    t_years = year_fraction(state.session_date, expiry)
    raw = future * math.exp(ladder.l2_strike_sd * scenario.vix_option_iv * math.sqrt(t_years))
    step = scenario.vix_strike_step_pts
    strike = _snap(raw, step, listing)
    # No lottery tickets (issue 10): a strike worth less than orders.min_premium_pts moves
    # toward the money, one listed strike (or grid step) at a time, never below the
    # at-the-money strike.
    floor_strike = _snap(future, step, listing)

    def lower(k: float) -> float | None:
        return round(k - step, 10) if listing is None else listed_below(listing, k)

    while (
        (below := lower(strike)) is not None
        and below >= floor_strike
        and black76_greeks(
            future=future,
            strike=strike,
            t_years=t_years,
            rate=scenario.risk_free_rate,
            iv=scenario.vix_option_iv,
            right=Right.CALL,
        ).price
        < orders.min_premium_pts
    ):
        strike = below
    return (_vix_call(strike, expiry, 1, orders),)


def l3_legs(
    state: MarketState,
    ladder: LadderParams,
    scenario: ScenarioParams,
    orders: OrderParams,
    listing: StrikeListing | None = None,
) -> tuple[OptionLeg, ...]:
    """L3 instrument (SPEC §4): one short-dated VIX call spread per unit (defined risk).

    Same expiry and long strike as L1; the short call is ``l3_spread_width_pts`` higher.

    Args:
        state: market state (VX curve).
        ladder: ladder parameters.
        scenario: scenario parameters (strike grid).
        orders: order parameters (VIX option multiplier).
        listing: listed strikes, or None for the grid; with a listing the short strike is
            the smallest listed one at or above ``K + width``.

    Returns:
        ``(long call K, short call K + width)`` with ``position_qty`` +1 and −1.

    Raises:
        InvariantViolation: no expiry found, or a non-positive spread width.
    """
    if ladder.l3_spread_width_pts <= 0.0:
        msg = f"l3_spread_width_pts must be > 0, got {ladder.l3_spread_width_pts}"
        raise InvariantViolation(msg)
    expiry = _short_dated_expiry(state, ladder)
    strike = _l1_strike(state, expiry, ladder, scenario.vix_strike_step_pts, listing)
    short = strike + ladder.l3_spread_width_pts
    if listing is not None:  # the width snapped to listed strikes: at least ``width`` wide
        short = listed_at_or_above(listing, short)
        if short <= strike:
            msg = f"no listed strike above {strike:g} for the L3 short call"
            raise InvariantViolation(msg)
    return (
        _vix_call(strike, expiry, 1, orders),
        _vix_call(short, expiry, -1, orders),
    )
