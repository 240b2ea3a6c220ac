"""The SPEC §5 VIX +Δ scenario: the market state, the VX curve, the condor and its risk.

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

The hedge side lives next door: the instruments of each layer (SPEC §4, the legs and
their strikes) in :mod:`daemon.core.strikes`; the hedge unit's pricing, the SPEC §5.6
sizing and the mark of a held hedge in :mod:`daemon.core.hedge_pricing`.

**Flat-vol simplification:** every SPX leg is priced at ``iv = VIX / 100`` (and
``VIX/100 + Δ·shift`` in the scenario). There is no skew surface, so out-of-the-money puts
are under-priced and calls over-priced relative to the market; the loss L is a sizing
figure, not a mark. VIX options use one flat ``params.vix_option_iv``. Time to expiry is
calendar days / 365 (ACT/365) from the session date.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, replace
from datetime import date

from daemon.core.expiries import spx_expiries_after
from daemon.core.fastinit import fast_init
from daemon.core.model import IronCondor, OptionLeg, Right
from daemon.core.params import CondorTemplate, ScenarioParams
from daemon.core.pricing import (
    DAYS_PER_YEAR,
    Greeks,
    bs_condor_sums,
    bs_greeks,
)
from daemon.errors import InvariantViolation

# enum members as module constants: a class attribute lookup costs ~65 ns on the hot
# paths (issue 9)
_RIGHT_CALL = Right.CALL
_RIGHT_PUT = Right.PUT

SPX_MONTHLY_TRADING_CLASS = "SPX"
"""Trading class of standard (AM-settled, third-Friday) SPX options."""

GRID_EPS = 1e-9
"""Tolerance (in grid steps) when rounding a value that already sits on a strike grid."""


# --------------------------------------------------------------------------- market state


@fast_init
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
        # One chained comparison on good prices (NaN fails it); the named check otherwise.
        if not (
            0.0 < self.spx < math.inf and 0.0 < self.iwm < math.inf and 0.0 < self.vix < math.inf
        ):
            for label, value in (("spx", self.spx), ("iwm", self.iwm), ("vix", self.vix)):
                _require_positive(label, value)
        # Good curves and betas pass in one loop and two comparisons; only a bad one pays
        # for the named checks below (issue 9: a close builds one or two states).
        is_good = True
        previous: date | None = None
        for expiry, price in self.vx_curve:
            if not 0.0 < price < math.inf or (previous is not None and expiry <= previous):
                is_good = False
                break
            previous = expiry
        beta_vix, beta_iwm = self.spx_pct_per_vix_pt, self.beta_iwm_spx
        if (
            is_good
            and (beta_vix is None or -math.inf < beta_vix < math.inf)
            and (beta_iwm is None or -math.inf < beta_iwm < math.inf)
        ):
            return
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


def round_down_to_step(value: float, step: float) -> float:
    """Largest multiple of ``step`` <= ``value`` (tolerant of float error)."""
    return round(math.floor(value / step + GRID_EPS) * step, 10)


def round_up_to_step(value: float, step: float) -> float:
    """Smallest multiple of ``step`` >= ``value`` (tolerant of float error)."""
    return round(math.ceil(value / step - GRID_EPS) * step, 10)


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
        or −1 (short), the condor's expiry, multiplier and trading class. Cached (the
        condor and its legs are frozen): a close values the same condor several times,
        and the same object is answered without hashing its fields (issue 9).
    """
    last = _LAST_CONDOR_LEGS[-1]  # one read: the pair stays consistent across threads
    if last[0] is condor:
        return last[1]
    legs = _condor_legs(condor)
    _LAST_CONDOR_LEGS[-1] = (condor, legs)
    return legs


_LAST_CONDOR_LEGS: list[tuple[IronCondor | None, tuple[OptionLeg, ...]]] = [(None, ())]
"""The last (condor, legs) of :func:`condor_legs`: an identity memo of a pure function."""


@functools.lru_cache(maxsize=16)
def _condor_legs(condor: IronCondor) -> tuple[OptionLeg, ...]:
    """The legs of :func:`condor_legs`, cached by value."""
    spec = (
        (_RIGHT_PUT, condor.long_put_strike, 1),
        (_RIGHT_PUT, condor.short_put_strike, -1),
        (_RIGHT_CALL, condor.short_call_strike, -1),
        (_RIGHT_CALL, condor.long_call_strike, 1),
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
    short_put = round_down_to_step(state.spx * (1.0 - template.short_put_otm_pct / 100.0), step)
    short_call = round_up_to_step(state.spx * (1.0 + template.short_call_otm_pct / 100.0), step)
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


@fast_init
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
        t_years = year_fraction(state.session_date, condor.expiry)  # every leg's expiry
        rate, div_yield = params.risk_free_rate, params.spx_dividend_yield
        legs = condor_legs(condor)
        # price and vega only, the four legs now and after in one pass (the same floats
        # as bs_greeks', summed leg by leg; issue 9)
        value_usd, value_after_usd, vega_usd = bs_condor_sums(
            state.spx, spot_after, t_years, rate, div_yield, iv_now, iv_after, legs, scale
        )
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
