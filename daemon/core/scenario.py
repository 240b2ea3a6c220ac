"""The SPEC §5 VIX +Δ scenario: condor risk, hedge instruments (SPEC §4) and sizing.

The scenario is an **instantaneous** shock (no time passes):

1. VIX rises by ``Δ = params.vix_shock_pts``.
2. SPX moves by ``β_vix · Δ`` percent: ``β_vix`` is the 90-session regression slope
   ``state.spx_pct_per_vix_pt``; the floor ``params.spx_pct_per_vix_pt_floor`` replaces it
   while history is short (``None``), as SPEC §5.2 says. With ``params.beta_floor_always``
   the floor also bounds it every day: ``min(slope, floor)`` (both negative, so the
   scenario is never milder than the floor). IWM moves by ``β(IWM,SPX) × SPX move``
   (``None`` → β = 1).
3. SPX implied vols rise by ``Δ × params.iv_shift_per_vix_pt``.
4. The condor is repriced with Black–Scholes–Merton (:func:`daemon.core.pricing.bs_greeks`),
   the satellite loses ``notional × IWM move``; the loss ``L`` is minus the value change,
   floored at 0.
5. Each hedge unit (VIX calls, Black-76 on the VX future of **its own expiry**) is repriced
   with the future moved by ``ρ · Δ`` (``params.vx_beta_to_spot``), same iv and time. When
   no future of that expiry is known, the fallback used is named
   (:func:`future_and_source`: ``vx_interpolated``, ``vx_nearest`` or ``spot_vix``) and
   travels with the proposal.

**Flat-vol simplification:** every SPX leg is priced at ``iv = VIX / 100`` (and
``VIX/100 + Δ·shift`` in the scenario). There is no skew surface, so out-of-the-money puts
are under-priced and calls over-priced relative to the market; the loss L is a sizing
figure, not a mark. VIX options use one flat ``params.vix_option_iv``. Time to expiry is
calendar days / 365 (ACT/365) from the session date.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from daemon.core.expiries import spx_expiries_after, vix_expiries_after
from daemon.core.listing import StrikeListing, listed_at_or_above, listed_below
from daemon.core.model import HedgePosition, IronCondor, OptionLeg, Right
from daemon.core.params import CondorTemplate, LadderParams, OrderParams, ScenarioParams
from daemon.core.pricing import DAYS_PER_YEAR, Greeks, black76_greeks, bs_greeks
from daemon.errors import InvariantViolation

VIX_TRADING_CLASS = "VIX"
"""Trading class of standard monthly VIX options."""

SPX_MONTHLY_TRADING_CLASS = "SPX"
"""Trading class of standard (AM-settled, third-Friday) SPX options."""

_EXPIRY_SEARCH = 24
"""How many monthly expiries ahead are searched for a layer's expiry."""

_GRID_EPS = 1e-9
"""Tolerance (in grid steps) when rounding a value that already sits on a strike grid."""


# --------------------------------------------------------------------------- market state


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketState:
    """The market inputs of one evaluation (closes or provisional intraday prices).

    Attributes:
        session_date: trading day the prices belong to (``t = 0`` for all year fractions).
        spx: SPX index level, points (> 0).
        iwm: IWM price, USD per share (> 0).
        vix: spot VIX, points (> 0).
        vx_curve: known VX futures as ``(expiry, price)``, sorted by expiry, prices > 0;
            empty → every expiry uses spot VIX (the ``spot_vix`` fallback).
        spx_pct_per_vix_pt: β_vix, the 90-day slope of SPX daily % return on VIX daily point
            change (% per point, normally negative); ``None`` when history is short.
        beta_iwm_spx: the larger of the 30- and 90-day IWM-on-SPX return betas (SPEC §1);
            ``None`` → 1.0 is used.
        beta_iwm_spx_30d: the 30-day beta (recorded in proposals), if known.
        beta_iwm_spx_90d: the 90-day beta (recorded in proposals), if known.

    Raises:
        InvariantViolation: a non-finite or non-positive price, or an unsorted /
            duplicated ``vx_curve``.
    """

    session_date: date
    spx: float
    iwm: float
    vix: float
    vx_curve: tuple[tuple[date, float], ...] = ()
    spx_pct_per_vix_pt: float | None = None
    beta_iwm_spx: float | None = None
    beta_iwm_spx_30d: float | None = None
    beta_iwm_spx_90d: float | None = None

    def __post_init__(self) -> None:
        """Validate prices and the futures curve (a bad state is a bug upstream)."""
        for label, value in (("spx", self.spx), ("iwm", self.iwm), ("vix", self.vix)):
            _require_positive(label, value)
        for expiry, price in self.vx_curve:
            _require_positive(f"vx_curve[{expiry}]", price)
        expiries = [e for e, _ in self.vx_curve]
        if any(b <= a for a, b in itertools.pairwise(expiries)):
            msg = f"vx_curve must be sorted by expiry without duplicates: {expiries}"
            raise InvariantViolation(msg)
        for label, beta in (
            ("spx_pct_per_vix_pt", self.spx_pct_per_vix_pt),
            ("beta_iwm_spx", self.beta_iwm_spx),
        ):
            if beta is not None and not math.isfinite(beta):
                msg = f"{label} must be finite or None, got {beta!r}"
                raise InvariantViolation(msg)


def _require_positive(label: str, value: float) -> None:
    """Raise InvariantViolation unless ``value`` is finite and > 0."""
    if not math.isfinite(value) or value <= 0.0:
        msg = f"{label} must be finite and > 0, got {value!r}"
        raise InvariantViolation(msg)


def year_fraction(start: date, end: date) -> float:
    """ACT/365 year fraction from ``start`` to ``end`` (negative if ``end`` is earlier).

    Args:
        start: the valuation date.
        end: the expiry.

    Returns:
        ``(end − start).days / 365``.
    """
    return (end - start).days / DAYS_PER_YEAR


FUTURE_SOURCE_OWN = "vx_future"
"""The VIX option is priced on the VX future of its own expiry (the SPEC §2 rule)."""
FUTURE_SOURCE_INTERPOLATED = "vx_interpolated"
"""Fallback: no future of that expiry; linear between the two listed around it."""
FUTURE_SOURCE_NEAREST = "vx_nearest"
"""Fallback: the expiry lies outside the known curve; the nearest listed future."""
FUTURE_SOURCE_SPOT = "spot_vix"
"""Fallback: no VX future known at all; spot VIX."""


def future_and_source(state: MarketState, expiry: date) -> tuple[float, str]:
    """VX future for an option expiry, and which rule gave it (never a silent substitute).

    The future of the option's own expiry (``vx_future``) when the curve lists it. Else a
    named fallback: between two known expiries the price is linear in calendar days
    (``vx_interpolated``); before the first or after the last known expiry the nearest
    known future (``vx_nearest``); with no curve spot VIX (``spot_vix``: spot overstates
    the future in backwardation and understates it in contango).

    Args:
        state: market state with ``vx_curve``.
        expiry: the option's expiry.

    Returns:
        ``(futures price in VIX points (> 0), source)``; source is one of
        :data:`FUTURE_SOURCE_OWN`, :data:`FUTURE_SOURCE_INTERPOLATED`,
        :data:`FUTURE_SOURCE_NEAREST`, :data:`FUTURE_SOURCE_SPOT`.
    """
    curve = state.vx_curve
    if not curve:
        return state.vix, FUTURE_SOURCE_SPOT
    for e, f in curve:
        if e == expiry:
            return f, FUTURE_SOURCE_OWN
    if expiry < curve[0][0]:
        return curve[0][1], FUTURE_SOURCE_NEAREST
    if expiry > curve[-1][0]:
        return curve[-1][1], FUTURE_SOURCE_NEAREST
    for (e0, f0), (e1, f1) in itertools.pairwise(curve):
        if e0 < expiry < e1:
            w = (expiry - e0).days / (e1 - e0).days
            return f0 + w * (f1 - f0), FUTURE_SOURCE_INTERPOLATED
    msg = f"no curve segment found for {expiry}"  # unreachable for a sorted curve
    raise InvariantViolation(msg)


def future_for_expiry(state: MarketState, expiry: date) -> float:
    """VX future price for an option expiry (:func:`future_and_source` without the source).

    Args:
        state: market state with ``vx_curve``.
        expiry: the option's expiry.

    Returns:
        Futures price, VIX points (> 0).
    """
    return future_and_source(state, expiry)[0]


# --------------------------------------------------------------------------- the condor


def _round_down(value: float, step: float) -> float:
    """Largest multiple of ``step`` <= ``value`` (tolerant of float error)."""
    return round(math.floor(value / step + _GRID_EPS) * step, 10)


def _round_up(value: float, step: float) -> float:
    """Smallest multiple of ``step`` >= ``value`` (tolerant of float error)."""
    return round(math.ceil(value / step - _GRID_EPS) * step, 10)


def _spx_leg_greeks(
    leg: OptionLeg, *, spot: float, iv: float, session_date: date, params: ScenarioParams
) -> Greeks:
    """BSM greeks of one long SPX option (per share) at ``spot`` and flat ``iv``."""
    return bs_greeks(
        spot=spot,
        strike=leg.strike,
        t_years=year_fraction(session_date, leg.expiry),
        rate=params.risk_free_rate,
        div_yield=params.spx_dividend_yield,
        iv=iv,
        right=leg.right,
    )


def condor_legs(condor: IronCondor) -> tuple[OptionLeg, ...]:
    """The four legs of ONE condor unit (signed ``position_qty`` ±1 per unit).

    Args:
        condor: the iron condor.

    Returns:
        (long put, short put, short call, long call), each with ``position_qty`` +1 (long)
        or −1 (short), the condor's expiry, multiplier and trading class.
    """
    spec = (
        (Right.PUT, condor.long_put_strike, 1),
        (Right.PUT, condor.short_put_strike, -1),
        (Right.CALL, condor.short_call_strike, -1),
        (Right.CALL, condor.long_call_strike, 1),
    )
    return tuple(
        OptionLeg(
            right=right,
            strike=strike,
            expiry=condor.expiry,
            position_qty=qty,
            multiplier=condor.multiplier,
            trading_class=condor.trading_class,
        )
        for right, strike, qty in spec
    )


def open_template_condor(
    state: MarketState, template: CondorTemplate, scenario: ScenarioParams
) -> IronCondor:
    """Open the replay/simulation iron condor of ``template`` at today's prices.

    Expiry: the standard monthly SPX expiry (third Friday, holiday-adjusted) closest to
    ``session_date + dte_days`` (ties → the earlier one). Short put =
    ``spx × (1 − short_put_otm_pct/100)`` rounded DOWN to ``strike_step_pts``; short call =
    ``spx × (1 + short_call_otm_pct/100)`` rounded UP; wings ``wing_width_pts`` further out.
    Credit = BSM value of the four legs at flat ``iv = VIX/100`` (short legs minus long legs).

    Args:
        state: today's market state.
        template: the condor template (SPEC §1 position used in replay/sim).
        scenario: rate and dividend yield for BSM.

    Returns:
        The condor, ``opened_on = state.session_date``, trading class ``"SPX"``.

    Raises:
        InvariantViolation: the priced net credit is not > 0, or the template gives
            non-positive strikes.
    """
    target = date.fromordinal(state.session_date.toordinal() + template.dte_days)
    candidates = spx_expiries_after(state.session_date, template.dte_days // 28 + 3)
    expiry = min(candidates, key=lambda e: (abs((e - target).days), e))
    step = template.strike_step_pts
    short_put = _round_down(state.spx * (1.0 - template.short_put_otm_pct / 100.0), step)
    short_call = _round_up(state.spx * (1.0 + template.short_call_otm_pct / 100.0), step)
    long_put = short_put - template.wing_width_pts
    long_call = short_call + template.wing_width_pts
    if long_put <= 0.0:
        msg = f"template gives a non-positive long put strike {long_put}"
        raise InvariantViolation(msg)
    condor = IronCondor(
        short_put_strike=short_put,
        long_put_strike=long_put,
        short_call_strike=short_call,
        long_call_strike=long_call,
        expiry=expiry,
        contracts=template.contracts,
        net_credit=1.0,  # placeholder, replaced below once the legs are priced
        multiplier=template.multiplier,
        trading_class=SPX_MONTHLY_TRADING_CLASS,
        opened_on=state.session_date,
    )
    iv = state.vix / 100.0
    value = sum(
        leg.position_qty
        * _spx_leg_greeks(
            leg, spot=state.spx, iv=iv, session_date=state.session_date, params=scenario
        ).price
        for leg in condor_legs(condor)
    )
    credit = -value
    if not credit > 0.0:
        msg = f"template condor prices at a non-positive credit {credit:.4f} on {expiry}"
        raise InvariantViolation(msg)
    return replace(condor, net_credit=credit)


@dataclass(frozen=True, slots=True, kw_only=True)
class CondorRisk:
    """The SPEC §5 scenario applied to the condor and the satellite.

    Attributes:
        value_usd: mark of the condor position now, USD (negative for a short condor:
            what it would cost to buy back).
        value_after_usd: the condor's mark in the scenario, USD.
        condor_loss_usd: condor part of the loss, USD (positive = loss; may be negative).
        satellite_loss_usd: satellite part, ``−notional × IWM move``, USD (positive = loss).
        scenario_loss_usd: L = max(0, condor_loss_usd + satellite_loss_usd), USD.
        spx_move_pct: SPX move in the scenario, percent (negative = down).
        iwm_move_pct: IWM move in the scenario, percent.
        condor_vega_usd_per_pt: |condor dollar vega| per 1 SPX implied-vol point, USD.
        condor_vega_usd_per_vix_pt: the same converted to VIX points
            (× ``iv_shift_per_vix_pt`` × 100): USD per VIX point, the vega-check target base.
        spx_pct_per_vix_pt_used: the β_vix actually applied, % per VIX point.
        vix_shock_pts: Δ, VIX points.
        is_beta_floor_bound: the floor replaced the regression slope (short history, or
            ``beta_floor_always`` with a milder slope).
        beta_iwm_spx_used: the IWM-on-SPX beta applied (1.0 when unknown).
        satellite_notional_usd: the satellite's long IWM notional, USD.
        iv_shift: SPX implied-vol shift of the scenario, decimal.
    """

    value_usd: float
    value_after_usd: float
    condor_loss_usd: float
    satellite_loss_usd: float
    scenario_loss_usd: float
    spx_move_pct: float
    iwm_move_pct: float
    condor_vega_usd_per_pt: float
    condor_vega_usd_per_vix_pt: float
    spx_pct_per_vix_pt_used: float
    vix_shock_pts: float
    is_beta_floor_bound: bool = False
    beta_iwm_spx_used: float = 1.0
    satellite_notional_usd: float = 0.0
    iv_shift: float = 0.0


def spx_pct_per_vix_pt_used(state: MarketState, params: ScenarioParams) -> float:
    """β_vix applied in the scenario (SPEC §5.2).

    The 90-session regression slope when known; the floor "when history is short" (the
    slope is None until ``beta_days`` sessions are in). With ``beta_floor_always`` the
    floor also bounds the slope: ``min(slope, floor)`` (both negative, % SPX per VIX
    point, so ``min`` keeps the more bearish one).

    Args:
        state: market state (``spx_pct_per_vix_pt`` may be None).
        params: scenario parameters (``spx_pct_per_vix_pt_floor``, ``beta_floor_always``).

    Returns:
        β_vix, percent per VIX point.
    """
    floor = params.spx_pct_per_vix_pt_floor
    beta = state.spx_pct_per_vix_pt
    if beta is None:
        return floor
    return min(beta, floor) if params.beta_floor_always else beta


def condor_risk(
    condor: IronCondor | None,
    satellite_usd: float,
    state: MarketState,
    params: ScenarioParams,
) -> CondorRisk:
    """Project the SPEC §5 scenario loss L of the condor plus the IWM satellite.

    Instantaneous shock: VIX +Δ; SPX × (1 + β_vix·Δ/100); SPX iv from ``VIX/100`` to
    ``VIX/100 + Δ × iv_shift_per_vix_pt`` (flat, see module doc); IWM move = β(IWM,SPX) ×
    SPX move. Time to expiry is unchanged. A condor past expiry is valued at intrinsic.

    Args:
        condor: the short iron condor, or None (satellite only).
        satellite_usd: long IWM notional, USD (>= 0; 0 = no satellite).
        state: market state.
        params: scenario parameters.

    Returns:
        The :class:`CondorRisk` (loss positive, floored at 0).

    Raises:
        InvariantViolation: negative or non-finite ``satellite_usd``.
    """
    if not math.isfinite(satellite_usd) or satellite_usd < 0.0:
        msg = f"satellite_usd must be finite and >= 0, got {satellite_usd!r}"
        raise InvariantViolation(msg)
    shock = params.vix_shock_pts
    beta_vix = spx_pct_per_vix_pt_used(state, params)
    spx_move_pct = beta_vix * shock
    beta_iwm = 1.0 if state.beta_iwm_spx is None else state.beta_iwm_spx
    iwm_move_pct = beta_iwm * spx_move_pct
    iv_now = state.vix / 100.0
    iv_after = iv_now + shock * params.iv_shift_per_vix_pt
    spot_after = state.spx * (1.0 + spx_move_pct / 100.0)
    value_usd = value_after_usd = vega_usd = 0.0
    if condor is not None:
        if spot_after <= 0.0:
            msg = f"scenario SPX level {spot_after} <= 0 (beta {beta_vix}, shock {shock})"
            raise InvariantViolation(msg)
        scale = condor.multiplier * condor.contracts
        for leg in condor_legs(condor):
            now = _spx_leg_greeks(
                leg, spot=state.spx, iv=iv_now, session_date=state.session_date, params=params
            )
            after = _spx_leg_greeks(
                leg, spot=spot_after, iv=iv_after, session_date=state.session_date, params=params
            )
            value_usd += leg.position_qty * now.price * scale
            value_after_usd += leg.position_qty * after.price * scale
            vega_usd += leg.position_qty * now.vega * scale
    condor_loss = value_usd - value_after_usd
    satellite_loss = -satellite_usd * iwm_move_pct / 100.0
    vega_abs = abs(vega_usd)
    return CondorRisk(
        value_usd=value_usd,
        value_after_usd=value_after_usd,
        condor_loss_usd=condor_loss,
        satellite_loss_usd=satellite_loss,
        scenario_loss_usd=max(0.0, condor_loss + satellite_loss),
        spx_move_pct=spx_move_pct,
        iwm_move_pct=iwm_move_pct,
        condor_vega_usd_per_pt=vega_abs,
        condor_vega_usd_per_vix_pt=vega_abs * params.iv_shift_per_vix_pt * 100.0,
        spx_pct_per_vix_pt_used=beta_vix,
        vix_shock_pts=shock,
        is_beta_floor_bound=state.spx_pct_per_vix_pt is None
        or beta_vix != state.spx_pct_per_vix_pt,
        beta_iwm_spx_used=beta_iwm,
        satellite_notional_usd=satellite_usd,
        iv_shift=shock * params.iv_shift_per_vix_pt,
    )


# --------------------------------------------------------------------------- hedge instruments


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
        return _round_up(target, step)
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


# --------------------------------------------------------------------------- hedge pricing


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
        future_source: the rule that gave ``future_pts`` (:func:`future_and_source`).
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

    Each leg uses the VX future of its expiry (:func:`future_for_expiry`), ``iv =
    params.vix_option_iv`` and ``rate = params.risk_free_rate``. Scenario: the future moves
    by ``ρ × Δ`` (``vx_beta_to_spot × vix_shock_pts``), same iv and time (instantaneous).

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
    if any(leg.expiry != expiry for leg in legs):
        msg = f"hedge legs must share one expiry: {[leg.expiry for leg in legs]}"
        raise InvariantViolation(msg)
    future, source = future_and_source(state, expiry)
    move = params.vx_beta_to_spot * params.vix_shock_pts
    price = value_usd = value_after_usd = vix_delta = premium_usd = 0.0
    break_evens: list[float] = []
    for leg in legs:
        now = _vix_leg_greeks(leg, future, state, params)
        after = _vix_leg_greeks(leg, max(future + move, 1e-9), state, params)
        price += leg.position_qty * now.price
        premium_usd += leg.position_qty * now.price * leg.multiplier
        value_usd += leg.position_qty * now.price * leg.multiplier
        value_after_usd += leg.position_qty * after.price * leg.multiplier
        vix_delta += now.delta * params.vx_beta_to_spot * leg.multiplier * leg.position_qty
        sign = 1.0 if leg.right is Right.CALL else -1.0
        break_evens.append(leg.strike + sign * now.price)
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

    A ratio within a relative ``_GRID_EPS`` of a whole number n ≥ 1 counts as n (so
    3.0000000001 units is 3, not 4); any other positive ratio rounds up, so a positive
    target never sizes to 0 units.
    """
    ratio = numerator / denominator
    if ratio <= 0.0:
        return 0
    nearest = round(ratio)
    if nearest >= 1 and abs(ratio - nearest) <= _GRID_EPS * nearest:
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
    return max(0, math.floor(budget_usd / unit.premium_usd + _GRID_EPS))


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
