"""European option prices and greeks: Black–Scholes–Merton (SPX) and Black-76 (VIX).

Two models, both closed-form and European (STYLE.md §2.4):

* :func:`bs_greeks` — Black–Scholes–Merton with a continuous dividend yield ``q``, for SPX
  index options (European, cash-settled). Hull, *Options, Futures, and Other Derivatives*,
  chapter "The Black–Scholes–Merton model" and the
  chapter on options on stock indices (Merton 1973 with dividend yield ``q``).
* :func:`black76_greeks` — Black (1976), "The pricing of commodity contracts", *Journal of
  Financial Economics* 3, 167–179, applied to the **VX future** of the option's expiry, never
  to spot VIX: a VIX option is, at expiry, an option on the (special opening quotation of the)
  index, whose risk-neutral expectation is the matching VX future. Hull, chapter "Futures
  options and Black's model".

IWM options are American; pricing them with :func:`bs_greeks` is only a sizing
approximation (early exercise premium ignored).

Conventions (all functions):

* ``iv`` is a decimal annual volatility (0.18 = 18 vol points); ``rate`` and ``div_yield``
  are continuously compounded annual decimals; ``t_years`` is ACT/365 calendar time.
* ``price`` is per share of the contract (index points); multiply by the multiplier for USD.
* ``delta`` is ∂price/∂underlying (the spot for BSM, the future for Black-76), positive for
  calls, negative for puts. ``gamma`` is ∂²price/∂underlying², ≥ 0.
* ``vega`` is the price change for a **1 vol point** rise of ``iv`` (∂price/∂σ × 0.01), ≥ 0.
* ``theta_per_day`` is the price change for **one calendar day** passing, everything else
  held (−∂price/∂T / 365); usually negative for a long option.

No SciPy: the normal CDF is ``0.5 · erfc(−x/√2)`` from the standard library, accurate in
the tails (``erfc`` avoids the cancellation of ``1 + erf`` for very negative ``x``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple, TypeAlias

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


from daemon.core.model import OptionLeg, Right

# enum members as module constants: a class attribute lookup costs ~65 ns on the hot
# paths (issue 9)
_RIGHT_CALL = Right.CALL

DAYS_PER_YEAR = 365.0
"""Calendar days per year for ``theta_per_day`` and ACT/365 year fractions."""

VOL_POINT = 0.01
"""One vol point as a decimal: ``vega`` is the price change for ``iv`` + 0.01."""

_SQRT_2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_INF = math.inf
_exp = math.exp
_erfc = math.erfc


class Greeks(NamedTuple):
    """Price and first/second-order sensitivities of one long option, per share.

    An immutable named tuple rather than a frozen dataclass: a session close prices about
    twenty options, and a frozen dataclass's constructor was 40 % of each pricing call
    (issue 9). Build it with keywords, read it by name.

    Attributes:
        price: option value, index points per share (≥ 0).
        delta: ∂price/∂underlying (spot for BSM, future for Black-76); calls in [0, 1],
            puts in [−1, 0].
        gamma: ∂²price/∂underlying², per point (≥ 0).
        vega: price change per 1 vol point rise of the implied vol (∂price/∂σ × 0.01, ≥ 0).
        theta_per_day: price change per calendar day passing (−∂price/∂T / 365).
    """

    price: float
    delta: float
    gamma: float
    vega: float
    theta_per_day: float


def norm_cdf(x: float) -> float:
    """Standard normal cumulative distribution function N(x).

    Args:
        x: the argument (dimensionless).

    Returns:
        P(Z ≤ x) for Z ~ N(0, 1), computed as ``0.5 · erfc(−x/√2)``.
    """
    return 0.5 * math.erfc(-x / _SQRT_2)


def norm_pdf(x: float) -> float:
    """Standard normal density n(x) = exp(−x²/2)/√(2π).

    Args:
        x: the argument (dimensionless).

    Returns:
        The density at ``x``.
    """
    return _INV_SQRT_2PI * math.exp(-0.5 * x * x)


def _check_inputs(underlying: float, strike: float, iv: float, t_years: float, name: str) -> None:
    """Reject non-finite or non-positive inputs (a bug upstream, not bad market data)."""
    for label, value in ((name, underlying), ("strike", strike), ("iv", iv)):
        if not math.isfinite(value) or value <= 0.0:
            msg = f"{label} must be finite and > 0, got {value!r}"
            raise ValueError(msg)
    if not math.isfinite(t_years):
        msg = f"t_years must be finite, got {t_years!r}"
        raise ValueError(msg)


def _intrinsic(underlying: float, strike: float, right: Right) -> Greeks:
    """Greeks of an option at (or past) expiry: intrinsic value, step delta, no vega."""
    if right is _RIGHT_CALL:
        value = max(underlying - strike, 0.0)
        delta = 1.0 if underlying > strike else 0.0
    else:
        value = max(strike - underlying, 0.0)
        delta = -1.0 if underlying < strike else 0.0
    return Greeks(price=value, delta=delta, gamma=0.0, vega=0.0, theta_per_day=0.0)


def bs_greeks(
    *,
    spot: float,
    strike: float,
    t_years: float,
    rate: float,
    div_yield: float,
    iv: float,
    right: Right,
) -> Greeks:
    """Black–Scholes–Merton price and greeks of a European option with dividend yield.

    With ``d1 = (ln(S/K) + (r − q + σ²/2)T) / (σ√T)`` and ``d2 = d1 − σ√T``::

        call = S e^{−qT} N(d1) − K e^{−rT} N(d2)
        put  = K e^{−rT} N(−d2) − S e^{−qT} N(−d1)

    Source: Hull, *Options, Futures, and Other Derivatives*, the Black–Scholes–Merton
    chapter, extended to a continuous dividend yield as in the chapter on options on stock
    indices (Merton 1973); greeks from the chapter "The Greek letters". Used for SPX
    (European, cash-settled). For IWM (American) it is only a sizing approximation.

    Args:
        spot: underlying spot price, index points (> 0).
        strike: strike, index points (> 0).
        t_years: time to expiry in years (ACT/365). ``<= 0`` → the expiry value.
        rate: risk-free rate, continuously compounded decimal (0.04 = 4 %).
        div_yield: continuous dividend yield, decimal (0.015 = 1.5 %).
        iv: implied volatility, decimal (0.18), > 0.
        right: call or put.

    Returns:
        Greeks of ONE long option per share (see :class:`Greeks` for units and signs). At
        ``t_years <= 0``: intrinsic value, delta 0/±1, gamma = vega = theta = 0.

    Raises:
        ValueError: ``spot``, ``strike`` or ``iv`` not finite and > 0, or ``t_years``
            not finite.
    """
    # One chained comparison is the whole check on good inputs (NaN fails every comparison);
    # only a bad input pays for the named error (issue 9: a close prices ~25 options).
    if not (
        0.0 < spot < _INF and 0.0 < strike < _INF and 0.0 < iv < _INF and -_INF < t_years < _INF
    ):
        _check_inputs(spot, strike, iv, t_years, "spot")
    if t_years <= 0.0:
        return _intrinsic(spot, strike, right)
    sqrt_t = math.sqrt(t_years)
    sig_sqrt_t = iv * sqrt_t
    d1 = (math.log(spot / strike) + (rate - div_yield + 0.5 * iv * iv) * t_years) / sig_sqrt_t
    d2 = d1 - sig_sqrt_t
    disc_q = math.exp(-div_yield * t_years)
    disc_r = math.exp(-rate * t_years)
    pdf_d1 = _INV_SQRT_2PI * _exp(-0.5 * d1 * d1)  # norm_pdf(d1), inlined
    gamma = disc_q * pdf_d1 / (spot * sig_sqrt_t)
    vega = spot * disc_q * pdf_d1 * sqrt_t * VOL_POINT
    decay = -spot * disc_q * pdf_d1 * iv / (2.0 * sqrt_t)
    if right is _RIGHT_CALL:
        nd1, nd2 = 0.5 * _erfc(-d1 / _SQRT_2), 0.5 * _erfc(-d2 / _SQRT_2)  # norm_cdf
        price = spot * disc_q * nd1 - strike * disc_r * nd2
        delta = disc_q * nd1
        theta_year = decay - rate * strike * disc_r * nd2 + div_yield * spot * disc_q * nd1
    else:
        nmd1, nmd2 = 0.5 * _erfc(d1 / _SQRT_2), 0.5 * _erfc(d2 / _SQRT_2)  # norm_cdf(-d)
        price = strike * disc_r * nmd2 - spot * disc_q * nmd1
        delta = -disc_q * nmd1
        theta_year = decay + rate * strike * disc_r * nmd2 - div_yield * spot * disc_q * nmd1
    # Positional (price, delta, gamma, vega, theta_per_day): the cheapest construction.
    return Greeks(max(price, 0.0), delta, gamma, vega, theta_year / DAYS_PER_YEAR)


def bs_price_vega(  # noqa: PLR0917 - positional on purpose: the hot path (issue 9)
    spot: float,
    strike: float,
    t_years: float,
    rate: float,
    div_yield: float,
    iv: float,
    right: Right,
) -> tuple[float, float]:
    """The ``price`` and ``vega`` of :func:`bs_greeks`, bit for bit, without the rest.

    The same formulas in the same order of operations (so the same floats), minus gamma,
    theta and the :class:`Greeks` tuple: the condor's scenario loss and buy-back need only
    these two, eight to twelve times per close (issue 9). Positional arguments.

    Args:
        spot: underlying spot price, index points (> 0).
        strike: strike, index points (> 0).
        t_years: time to expiry in years (ACT/365). ``<= 0`` → the expiry value, vega 0.
        rate: risk-free rate, continuously compounded decimal.
        div_yield: continuous dividend yield, decimal.
        iv: implied volatility, decimal (> 0).
        right: call or put.

    Returns:
        ``(price, vega)`` of ONE long option per share: price in index points (>= 0),
        vega in points per 1 vol point (as :class:`Greeks`).

    Raises:
        ValueError: as :func:`bs_greeks`.
    """
    if not (
        0.0 < spot < _INF and 0.0 < strike < _INF and 0.0 < iv < _INF and -_INF < t_years < _INF
    ):
        _check_inputs(spot, strike, iv, t_years, "spot")
    if t_years <= 0.0:
        return _intrinsic(spot, strike, right).price, 0.0
    sqrt_t = math.sqrt(t_years)
    sig_sqrt_t = iv * sqrt_t
    d1 = (math.log(spot / strike) + (rate - div_yield + 0.5 * iv * iv) * t_years) / sig_sqrt_t
    d2 = d1 - sig_sqrt_t
    disc_q = math.exp(-div_yield * t_years)
    disc_r = math.exp(-rate * t_years)
    pdf_d1 = _INV_SQRT_2PI * _exp(-0.5 * d1 * d1)
    vega = spot * disc_q * pdf_d1 * sqrt_t * VOL_POINT
    if right is _RIGHT_CALL:
        nd1, nd2 = 0.5 * _erfc(-d1 / _SQRT_2), 0.5 * _erfc(-d2 / _SQRT_2)
        price = spot * disc_q * nd1 - strike * disc_r * nd2
    else:
        nmd1, nmd2 = 0.5 * _erfc(d1 / _SQRT_2), 0.5 * _erfc(d2 / _SQRT_2)
        price = strike * disc_r * nmd2 - spot * disc_q * nmd1
    return max(price, 0.0), vega


def bs_price_vega_legs(  # noqa: PLR0917 - positional on purpose: the hot path (issue 9)
    spot: float,
    t_years: float,
    rate: float,
    div_yield: float,
    iv_put: float,
    iv_call: float,
    legs: Sequence[OptionLeg],
) -> list[tuple[float, float]]:
    """:func:`bs_price_vega` of each leg of one expiry, bit for bit, in one call.

    The terms every leg shares (``√t``, both discount factors) are computed once; each
    leg's own terms use the same expressions in the same order as :func:`bs_price_vega`,
    so every float is the same. A condor is valued three times a close (its scenario risk,
    now and shocked, and its buy-back mark): twelve options (issue 9).

    Args:
        spot: underlying spot price, index points (> 0).
        t_years: time to expiry in years (ACT/365), the legs' common expiry.
        rate: risk-free rate, continuously compounded decimal.
        div_yield: continuous dividend yield, decimal.
        iv_put: implied volatility of the put legs, decimal (> 0).
        iv_call: implied volatility of the call legs, decimal (> 0).
        legs: the options (their ``strike`` and ``right``; ``position_qty`` is ignored).

    Returns:
        ``(price, vega)`` of ONE long option per share for each leg, in order (as
        :func:`bs_price_vega`).

    Raises:
        ValueError: as :func:`bs_greeks`.
    """
    if not (
        0.0 < spot < _INF and 0.0 < iv_put < _INF and 0.0 < iv_call < _INF and 0.0 < t_years < _INF
    ):  # expired, or bad inputs: each leg on its own (the same values and errors)
        return [
            bs_price_vega(
                spot,
                leg.strike,
                t_years,
                rate,
                div_yield,
                iv_call if leg.right is _RIGHT_CALL else iv_put,
                leg.right,
            )
            for leg in legs
        ]
    sqrt_t = math.sqrt(t_years)
    carry = rate - div_yield
    disc_q = math.exp(-div_yield * t_years)
    disc_r = math.exp(-rate * t_years)
    spot_q = spot * disc_q
    log = math.log
    out: list[tuple[float, float]] = []
    for leg in legs:
        strike, right = leg.strike, leg.right
        is_call = right is _RIGHT_CALL
        iv = iv_call if is_call else iv_put
        if not 0.0 < strike < _INF:
            out.append(bs_price_vega(spot, strike, t_years, rate, div_yield, iv, right))
            continue
        sig_sqrt_t = iv * sqrt_t
        d1 = (log(spot / strike) + (carry + 0.5 * iv * iv) * t_years) / sig_sqrt_t
        d2 = d1 - sig_sqrt_t
        pdf_d1 = _INV_SQRT_2PI * _exp(-0.5 * d1 * d1)
        vega = spot_q * pdf_d1 * sqrt_t * VOL_POINT
        if is_call:
            nd1, nd2 = 0.5 * _erfc(-d1 / _SQRT_2), 0.5 * _erfc(-d2 / _SQRT_2)
            price = spot_q * nd1 - strike * disc_r * nd2
        else:
            nmd1, nmd2 = 0.5 * _erfc(d1 / _SQRT_2), 0.5 * _erfc(d2 / _SQRT_2)
            price = strike * disc_r * nmd2 - spot_q * nmd1
        out.append((0.0 if price < 0.0 else price, vega))  # max(price, 0.0), exactly
    return out


def bs_prices_legs(  # noqa: PLR0917 - positional on purpose: the hot path (issue 9)
    spot: float,
    t_years: float,
    rate: float,
    div_yield: float,
    iv_put: float,
    iv_call: float,
    legs: Sequence[OptionLeg],
) -> list[float]:
    """The prices of :func:`bs_price_vega_legs`, bit for bit, without the vegas.

    For the valuations that need no vega (the condor in the scenario, its buy-back
    mark): the same expressions minus the density and vega terms (issue 9).

    Args:
        spot: underlying spot price, index points (> 0).
        t_years: time to expiry in years (ACT/365), the legs' common expiry.
        rate: risk-free rate, continuously compounded decimal.
        div_yield: continuous dividend yield, decimal.
        iv_put: implied volatility of the put legs, decimal (> 0).
        iv_call: implied volatility of the call legs, decimal (> 0).
        legs: the options (their ``strike`` and ``right``; ``position_qty`` is ignored).

    Returns:
        The price of ONE long option per share for each leg, index points (>= 0), in
        order.

    Raises:
        ValueError: as :func:`bs_greeks`.
    """
    if not (
        0.0 < spot < _INF and 0.0 < iv_put < _INF and 0.0 < iv_call < _INF and 0.0 < t_years < _INF
    ):  # expired, or bad inputs: the leg-by-leg function (the same values and errors)
        return [
            price
            for price, _ in bs_price_vega_legs(
                spot, t_years, rate, div_yield, iv_put, iv_call, legs
            )
        ]
    sqrt_t = math.sqrt(t_years)
    carry = rate - div_yield
    disc_q = math.exp(-div_yield * t_years)
    disc_r = math.exp(-rate * t_years)
    spot_q = spot * disc_q
    log = math.log
    out: list[float] = []
    for leg in legs:
        strike = leg.strike
        is_call = leg.right is _RIGHT_CALL
        iv = iv_call if is_call else iv_put
        if not 0.0 < strike < _INF:
            out.append(bs_price_vega(spot, strike, t_years, rate, div_yield, iv, leg.right)[0])
            continue
        sig_sqrt_t = iv * sqrt_t
        d1 = (log(spot / strike) + (carry + 0.5 * iv * iv) * t_years) / sig_sqrt_t
        d2 = d1 - sig_sqrt_t
        if is_call:
            price = spot_q * (0.5 * _erfc(-d1 / _SQRT_2)) - strike * disc_r * (
                0.5 * _erfc(-d2 / _SQRT_2)
            )
        else:
            price = strike * disc_r * (0.5 * _erfc(d2 / _SQRT_2)) - spot_q * (
                0.5 * _erfc(d1 / _SQRT_2)
            )
        out.append(0.0 if price < 0.0 else price)  # max(price, 0.0), exactly
    return out


def bs_position_value(  # noqa: PLR0917 - positional on purpose: the hot path (issue 9)
    spot: float,
    t_years: float,
    rate: float,
    div_yield: float,
    iv_put: float,
    iv_call: float,
    legs: Sequence[OptionLeg],
) -> float:
    """``Σ position_qty × price`` over ``legs`` of one expiry, points per share, bit for bit.

    The prices of :func:`bs_prices_legs` (one call for all the legs: the condor's
    buy-back mark at every close; issue 9) summed leg by leg in order from 0.0.

    Args:
        spot: underlying spot price, index points (> 0).
        t_years: time to expiry in years (ACT/365), the legs' common expiry.
        rate: risk-free rate, continuously compounded decimal.
        div_yield: continuous dividend yield, decimal.
        iv_put: implied volatility of the put legs, decimal (> 0).
        iv_call: implied volatility of the call legs, decimal (> 0).
        legs: the options (``strike``, ``right`` and signed ``position_qty``).

    Raises:
        ValueError: as :func:`bs_greeks`.
    """
    priced = bs_prices_legs(spot, t_years, rate, div_yield, iv_put, iv_call, legs)
    value = 0.0
    for leg, price in zip(legs, priced, strict=True):
        value += leg.position_qty * price
    return value


def bs_condor_sums(  # noqa: PLR0917 - positional on purpose: the hot path (issue 9)
    spot: float,
    spot_after: float,
    t_years: float,
    rate: float,
    div_yield: float,
    iv: float,
    iv_after: float,
    legs: Sequence[OptionLeg],
    scale: float,
) -> tuple[float, float, float]:
    """The scenario's sums over ``legs`` of one expiry, now and after the shock, bit for bit.

    ``Σ qty × price × scale`` now (:func:`bs_price_vega_legs` at ``spot``, ``iv`` on every
    leg), the same after (:func:`bs_prices_legs` at ``spot_after``, ``iv_after``) and
    ``Σ qty × vega × scale`` now, accumulated leg by leg in order from 0.0: the floats
    of those two calls summed as the condor's scenario sums them, in one pass (the shared
    time and discount terms once, no lists; issue 9). Inputs outside the usual range
    take the two calls: the same values and errors, in the same order.

    Args:
        spot: underlying spot price now, index points (> 0).
        spot_after: the spot after the shock, index points (> 0).
        t_years: time to expiry in years (ACT/365), the legs' common expiry.
        rate: risk-free rate, continuously compounded decimal.
        div_yield: continuous dividend yield, decimal.
        iv: implied volatility now, decimal (> 0), every leg.
        iv_after: implied volatility after the shock, decimal (> 0), every leg.
        legs: the options (``strike``, ``right`` and signed ``position_qty`` per unit).
        scale: USD per point of one leg unit (multiplier × contracts).

    Returns:
        ``(value_usd, value_after_usd, vega_usd)``.

    Raises:
        ValueError: as :func:`bs_greeks`.
    """
    if not (
        0.0 < spot < _INF
        and 0.0 < spot_after < _INF
        and 0.0 < iv < _INF
        and 0.0 < iv_after < _INF
        and 0.0 < t_years < _INF
    ):
        return _condor_sums_by_calls(
            spot, spot_after, t_years, rate, div_yield, iv, iv_after, legs, scale
        )
    value = value_after = vega_sum = 0.0
    sqrt_t = math.sqrt(t_years)
    carry = rate - div_yield
    disc_q = math.exp(-div_yield * t_years)
    disc_r = math.exp(-rate * t_years)
    spot_q = spot * disc_q
    after_q = spot_after * disc_q
    log = math.log
    sig_sqrt_t = iv * sqrt_t
    drift_t = (carry + 0.5 * iv * iv) * t_years
    sig_sqrt_t_a = iv_after * sqrt_t
    drift_t_a = (carry + 0.5 * iv_after * iv_after) * t_years
    for leg in legs:
        strike, qty = leg.strike, leg.position_qty
        if not 0.0 < strike < _INF:  # a bad strike: the two calls (their error)
            return _condor_sums_by_calls(
                spot, spot_after, t_years, rate, div_yield, iv, iv_after, legs, scale
            )
        # now: bs_price_vega_legs' expressions
        d1 = (log(spot / strike) + drift_t) / sig_sqrt_t
        d2 = d1 - sig_sqrt_t
        vega = spot_q * (_INV_SQRT_2PI * _exp(-0.5 * d1 * d1)) * sqrt_t * VOL_POINT
        # after: bs_prices_legs' expressions
        a1 = (log(spot_after / strike) + drift_t_a) / sig_sqrt_t_a
        a2 = a1 - sig_sqrt_t_a
        if leg.right is _RIGHT_CALL:
            price = spot_q * (0.5 * _erfc(-d1 / _SQRT_2)) - strike * disc_r * (
                0.5 * _erfc(-d2 / _SQRT_2)
            )
            after = after_q * (0.5 * _erfc(-a1 / _SQRT_2)) - strike * disc_r * (
                0.5 * _erfc(-a2 / _SQRT_2)
            )
        else:
            price = strike * disc_r * (0.5 * _erfc(d2 / _SQRT_2)) - spot_q * (
                0.5 * _erfc(d1 / _SQRT_2)
            )
            after = strike * disc_r * (0.5 * _erfc(a2 / _SQRT_2)) - after_q * (
                0.5 * _erfc(a1 / _SQRT_2)
            )
        value += qty * (0.0 if price < 0.0 else price) * scale
        value_after += qty * (0.0 if after < 0.0 else after) * scale
        vega_sum += qty * vega * scale
    return value, value_after, vega_sum


def _condor_sums_by_calls(  # noqa: PLR0917 - as bs_condor_sums
    spot: float,
    spot_after: float,
    t_years: float,
    rate: float,
    div_yield: float,
    iv: float,
    iv_after: float,
    legs: Sequence[OptionLeg],
    scale: float,
) -> tuple[float, float, float]:
    """:func:`bs_condor_sums` by the two leg-list calls (any input; their values and errors)."""
    value = value_after = vega_sum = 0.0
    now = bs_price_vega_legs(spot, t_years, rate, div_yield, iv, iv, legs)
    after = bs_prices_legs(spot_after, t_years, rate, div_yield, iv_after, iv_after, legs)
    for leg, (now_price, now_vega), after_price in zip(legs, now, after, strict=True):
        value += leg.position_qty * now_price * scale
        value_after += leg.position_qty * after_price * scale
        vega_sum += leg.position_qty * now_vega * scale
    return value, value_after, vega_sum


def black76_greeks(
    *,
    future: float,
    strike: float,
    t_years: float,
    rate: float,
    iv: float,
    right: Right,
) -> Greeks:
    """Black (1976) price and greeks of a European option on a futures price.

    With ``d1 = (ln(F/K) + σ²T/2) / (σ√T)`` and ``d2 = d1 − σ√T``::

        call = e^{−rT} (F N(d1) − K N(d2))
        put  = e^{−rT} (K N(−d2) − F N(−d1))

    Sources: Black, F. (1976), "The pricing of commodity contracts", *Journal of Financial
    Economics* 3, 167–179; Hull, *Options, Futures, and Other Derivatives*, chapter "Futures
    options and Black's model". For VIX options ``future`` MUST be
    the VX future of the option's expiry (SPEC §2, STYLE.md §2.4), not spot VIX.

    Args:
        future: futures price for the option's expiry, points (> 0).
        strike: strike, points (> 0).
        t_years: time to expiry in years (ACT/365). ``<= 0`` → the expiry value.
        rate: risk-free rate used for discounting, continuously compounded decimal.
        iv: implied volatility of the future, decimal (> 0).
        right: call or put.

    Returns:
        Greeks of ONE long option per share; ``delta``/``gamma`` are with respect to the
        FUTURE price. At ``t_years <= 0``: intrinsic value against ``future``, delta 0/±1,
        gamma = vega = theta = 0.

    Raises:
        ValueError: ``future``, ``strike`` or ``iv`` not finite and > 0, or ``t_years``
            not finite.
    """
    if not (
        0.0 < future < _INF and 0.0 < strike < _INF and 0.0 < iv < _INF and -_INF < t_years < _INF
    ):
        _check_inputs(future, strike, iv, t_years, "future")
    if t_years <= 0.0:
        return _intrinsic(future, strike, right)
    sqrt_t = math.sqrt(t_years)
    sig_sqrt_t = iv * sqrt_t
    d1 = (math.log(future / strike) + 0.5 * iv * iv * t_years) / sig_sqrt_t
    d2 = d1 - sig_sqrt_t
    disc_r = math.exp(-rate * t_years)
    pdf_d1 = norm_pdf(d1)
    gamma = disc_r * pdf_d1 / (future * sig_sqrt_t)
    vega = future * disc_r * pdf_d1 * sqrt_t * VOL_POINT
    if right is _RIGHT_CALL:
        price = disc_r * (future * norm_cdf(d1) - strike * norm_cdf(d2))
        delta = disc_r * norm_cdf(d1)
    else:
        price = disc_r * (strike * norm_cdf(-d2) - future * norm_cdf(-d1))
        delta = -disc_r * norm_cdf(-d1)
    # V = e^{-rT} X(T)  ⇒  −∂V/∂T = r V − e^{-rT} F n(d1) σ / (2√T)   (Hull, Black's model).
    theta_year = rate * price - disc_r * future * pdf_d1 * iv / (2.0 * sqrt_t)
    # Positional (price, delta, gamma, vega, theta_per_day): the cheapest construction.
    return Greeks(max(price, 0.0), delta, gamma, vega, theta_year / DAYS_PER_YEAR)


def black76_price_delta(  # noqa: PLR0917 - positional on purpose: the hot path (issue 9)
    future: float,
    strike: float,
    t_years: float,
    rate: float,
    iv: float,
    right: Right,
) -> tuple[float, float]:
    """The ``price`` and ``delta`` of :func:`black76_greeks`, bit for bit, without the rest.

    The same formulas in the same order of operations (so the same floats), minus gamma,
    vega, theta and the :class:`Greeks` tuple: a hedge's marks and its scenario gain need
    only these two, a few times per close (issue 9). Positional arguments.

    Args:
        future: futures price for the option's expiry, points (> 0).
        strike: strike, points (> 0).
        t_years: time to expiry in years (ACT/365). ``<= 0`` → the expiry value.
        rate: risk-free rate used for discounting, continuously compounded decimal.
        iv: implied volatility of the future, decimal (> 0).
        right: call or put.

    Returns:
        ``(price, delta)`` of ONE long option per share, as :func:`black76_greeks`.

    Raises:
        ValueError: as :func:`black76_greeks`.
    """
    if not (
        0.0 < future < _INF and 0.0 < strike < _INF and 0.0 < iv < _INF and -_INF < t_years < _INF
    ):
        _check_inputs(future, strike, iv, t_years, "future")
    if t_years <= 0.0:
        g = _intrinsic(future, strike, right)
        return g.price, g.delta
    sqrt_t = math.sqrt(t_years)
    sig_sqrt_t = iv * sqrt_t
    d1 = (math.log(future / strike) + 0.5 * iv * iv * t_years) / sig_sqrt_t
    d2 = d1 - sig_sqrt_t
    disc_r = math.exp(-rate * t_years)
    if right is _RIGHT_CALL:
        nd1 = 0.5 * _erfc(-d1 / _SQRT_2)  # norm_cdf(d1)
        price = disc_r * (future * nd1 - strike * (0.5 * _erfc(-d2 / _SQRT_2)))
        delta = disc_r * nd1
    else:
        nmd1 = 0.5 * _erfc(d1 / _SQRT_2)  # norm_cdf(-d1), exactly (negation is exact)
        price = disc_r * (strike * (0.5 * _erfc(d2 / _SQRT_2)) - future * nmd1)
        delta = -disc_r * nmd1
    return (0.0 if price < 0.0 else price), delta  # max(price, 0.0), exactly


def black76_price_delta_pair(  # noqa: PLR0917 - positional on purpose: the hot path (issue 9)
    future: float,
    future_after: float,
    strike: float,
    t_years: float,
    rate: float,
    iv: float,
    right: Right,
) -> tuple[float, float, float]:
    """:func:`black76_price_delta` at ``future`` and the price at ``future_after``, bit for bit.

    A hedge unit is priced now and after the scenario's move of its future: the same
    strike, time, rate and volatility, so ``√T``, ``σ√T``, ``σ²T/2`` and the discount
    factor are computed once; each price uses the same expressions in the same order as
    :func:`black76_price_delta` (so the same floats). Inputs outside the usual range
    (an expired option, a bad number) take two :func:`black76_price_delta` calls: the
    same values and the same errors, in the same order (issue 9).

    Args:
        future: futures price for the option's expiry now, points (> 0).
        future_after: the futures price after the move, points (> 0).
        strike: strike, points (> 0).
        t_years: time to expiry in years (ACT/365).
        rate: risk-free rate used for discounting, continuously compounded decimal.
        iv: implied volatility of the future, decimal (> 0).
        right: call or put.

    Returns:
        ``(price, delta, price_after)`` of ONE long option per share.

    Raises:
        ValueError: as :func:`black76_greeks`.
    """
    if not (
        0.0 < future < _INF
        and 0.0 < future_after < _INF
        and 0.0 < strike < _INF
        and 0.0 < iv < _INF
        and 0.0 < t_years < _INF
    ):
        price, delta = black76_price_delta(future, strike, t_years, rate, iv, right)
        after, _ = black76_price_delta(future_after, strike, t_years, rate, iv, right)
        return price, delta, after
    sqrt_t = math.sqrt(t_years)
    sig_sqrt_t = iv * sqrt_t
    half_var_t = 0.5 * iv * iv * t_years
    disc_r = math.exp(-rate * t_years)
    log = math.log
    d1 = (log(future / strike) + half_var_t) / sig_sqrt_t
    d2 = d1 - sig_sqrt_t
    a1 = (log(future_after / strike) + half_var_t) / sig_sqrt_t
    a2 = a1 - sig_sqrt_t
    if right is _RIGHT_CALL:
        nd1 = 0.5 * _erfc(-d1 / _SQRT_2)  # norm_cdf(d1)
        price = disc_r * (future * nd1 - strike * (0.5 * _erfc(-d2 / _SQRT_2)))
        delta = disc_r * nd1
        after = disc_r * (
            future_after * (0.5 * _erfc(-a1 / _SQRT_2)) - strike * (0.5 * _erfc(-a2 / _SQRT_2))
        )
    else:
        nmd1 = 0.5 * _erfc(d1 / _SQRT_2)  # norm_cdf(-d1), exactly (negation is exact)
        price = disc_r * (strike * (0.5 * _erfc(d2 / _SQRT_2)) - future * nmd1)
        delta = -disc_r * nmd1
        after = disc_r * (
            strike * (0.5 * _erfc(a2 / _SQRT_2)) - future_after * (0.5 * _erfc(a1 / _SQRT_2))
        )
    # each price floored at zero exactly as max(price, 0.0) does
    return (0.0 if price < 0.0 else price), delta, (0.0 if after < 0.0 else after)


FloatArray: TypeAlias = "npt.NDArray[np.float64]"
"""A numpy float64 array (vectorised pricing)."""


def _norm_cdf_array(x: FloatArray) -> FloatArray:
    """Element-wise N(x) via ``math.erfc`` (numpy has no erf and SciPy is not a dependency)."""
    import numpy as np  # noqa: PLC0415

    flat = [0.5 * math.erfc(-float(v) / _SQRT_2) for v in x.ravel()]
    return np.asarray(flat, dtype=np.float64).reshape(x.shape)


def black76_price_array(
    *,
    future: float,
    strikes: npt.ArrayLike,
    t_years: float,
    rate: float,
    iv: float,
    right: Right,
) -> FloatArray:
    """Black-76 prices of one expiry over a strike grid (vectorised :func:`black76_greeks`).

    Same model, units and source as :func:`black76_greeks` (Black 1976; Hull, "Futures
    options and Black's model"); used to scan a VIX strike grid in one call.

    Args:
        future: VX future for the expiry, points (> 0).
        strikes: strikes, points (each > 0).
        t_years: time to expiry, years (ACT/365); ``<= 0`` → intrinsic values.
        rate: risk-free rate, continuously compounded decimal.
        iv: implied vol of the future, decimal (> 0).
        right: call or put.

    Returns:
        Prices per share, index points, same shape as ``strikes``.

    Raises:
        ValueError: non-positive or non-finite ``future``, ``iv`` or any strike.
    """
    import numpy as np  # noqa: PLC0415 - only this function needs numpy (start-up)

    k = np.asarray(strikes, dtype=np.float64)
    if not math.isfinite(future) or future <= 0.0 or not math.isfinite(iv) or iv <= 0.0:
        msg = f"future and iv must be finite and > 0, got {future!r}, {iv!r}"
        raise ValueError(msg)
    if not np.all(np.isfinite(k)) or np.any(k <= 0.0):
        msg = "strikes must be finite and > 0"
        raise ValueError(msg)
    if not math.isfinite(t_years):
        msg = f"t_years must be finite, got {t_years!r}"
        raise ValueError(msg)
    sign = 1.0 if right is _RIGHT_CALL else -1.0
    if t_years <= 0.0:
        intrinsic: FloatArray = np.maximum(sign * (future - k), 0.0)
        return intrinsic
    sig_sqrt_t = iv * math.sqrt(t_years)
    d1 = (np.log(future / k) + 0.5 * iv * iv * t_years) / sig_sqrt_t
    d2 = d1 - sig_sqrt_t
    disc_r = math.exp(-rate * t_years)
    prices: FloatArray = (
        disc_r * sign * (future * _norm_cdf_array(sign * d1) - k * _norm_cdf_array(sign * d2))
    )
    return np.maximum(prices, 0.0)
