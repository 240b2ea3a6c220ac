"""Black–Scholes–Merton and Black-76 against published reference values and identities.

References:
- Hull, J. C., *Options, Futures, and Other Derivatives*: the Black–Scholes–Merton pricing
  example (S=42, K=40, r=10 %, σ=20 %, T=0.5 → c = 4.76, p = 0.81; Example 15.6 in the 9th
  ed.) and the futures-option example in "Futures options and Black's model" (crude-oil
  put, F=K=20, r=9 %, σ=25 %, T=4 months → p = 1.12).
- Haug, E. G., *The Complete Guide to Option Pricing Formulas*, 2nd ed., chapter 1:
  Black–Scholes (1973) call S=60, K=65, T=0.25, r=8 %, σ=30 % → 2.1334;
  Merton (1973) index put S=100, K=95, T=0.5, r=10 %, q=5 %, σ=20 % → 2.4648;
  Black (1976) F=K=19, T=0.75, r=10 %, σ=28 % → c = p = 1.7011;
  delta (futures option) F=105, K=100, T=0.5, r=10 %, σ=36 % → call 0.5946, put −0.3566;
  gamma S=55, K=60, T=0.75, r=b=10 %, σ=30 % → 0.0278;
  theta S=430, K=405, T=0.0833, r=7 %, b=2 % (q=5 %), σ=20 % → put −31.1924 per year.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.core.model import Right
from daemon.core.pricing import (
    DAYS_PER_YEAR,
    black76_greeks,
    black76_price_array,
    bs_greeks,
    norm_cdf,
)

CALL, PUT = Right.CALL, Right.PUT


# --------------------------------------------------------------------------- published values


@pytest.mark.parametrize(
    ("right", "expected"),
    [(CALL, 4.76), (PUT, 0.81)],
)
def test_hull_bsm_example(right: Right, expected: float) -> None:
    g = bs_greeks(spot=42, strike=40, t_years=0.5, rate=0.10, div_yield=0.0, iv=0.20, right=right)
    assert g.price == pytest.approx(expected, abs=0.005)


def test_hull_black76_crude_oil_put() -> None:
    g = black76_greeks(future=20, strike=20, t_years=4 / 12, rate=0.09, iv=0.25, right=PUT)
    assert g.price == pytest.approx(1.12, abs=0.005)


def test_haug_black_scholes_call() -> None:
    g = bs_greeks(spot=60, strike=65, t_years=0.25, rate=0.08, div_yield=0.0, iv=0.30, right=CALL)
    assert g.price == pytest.approx(2.1334, abs=1e-4)


def test_haug_merton_index_put() -> None:
    g = bs_greeks(spot=100, strike=95, t_years=0.5, rate=0.10, div_yield=0.05, iv=0.20, right=PUT)
    assert g.price == pytest.approx(2.4648, abs=1e-4)


@pytest.mark.parametrize("right", [CALL, PUT])
def test_haug_black76_at_the_money(right: Right) -> None:
    g = black76_greeks(future=19, strike=19, t_years=0.75, rate=0.10, iv=0.28, right=right)
    assert g.price == pytest.approx(1.7011, abs=1e-4)


@pytest.mark.parametrize(("right", "expected"), [(CALL, 0.5946), (PUT, -0.3566)])
def test_haug_black76_delta(right: Right, expected: float) -> None:
    g = black76_greeks(future=105, strike=100, t_years=0.5, rate=0.10, iv=0.36, right=right)
    assert g.delta == pytest.approx(expected, abs=1e-4)


def test_haug_gamma() -> None:
    g = bs_greeks(spot=55, strike=60, t_years=0.75, rate=0.10, div_yield=0.0, iv=0.30, right=CALL)
    assert g.gamma == pytest.approx(0.0278, abs=1e-4)


def test_haug_put_theta_per_day_is_annual_over_365() -> None:
    g = bs_greeks(
        spot=430, strike=405, t_years=0.0833, rate=0.07, div_yield=0.05, iv=0.20, right=PUT
    )
    assert g.theta_per_day * DAYS_PER_YEAR == pytest.approx(-31.1924, abs=1e-3)


def test_norm_cdf_tails_and_centre() -> None:
    assert norm_cdf(0.0) == 0.5
    assert norm_cdf(1.959963984540054) == pytest.approx(0.975, abs=1e-12)
    assert 0.0 < norm_cdf(-30.0) < 1e-190  # erfc keeps the far tail (1 + erf would give 0)


# --------------------------------------------------------------------------- identities

spots = st.floats(min_value=20.0, max_value=5000.0)
moneyness = st.floats(min_value=0.6, max_value=1.6)
times = st.floats(min_value=5 / 365, max_value=2.0)
rates = st.floats(min_value=-0.01, max_value=0.10)
divs = st.floats(min_value=0.0, max_value=0.05)
vols = st.floats(min_value=0.05, max_value=1.5)


@settings(max_examples=200, deadline=None)
@given(s=spots, m=moneyness, t=times, r=rates, q=divs, v=vols)
def test_bsm_put_call_parity(*, s: float, m: float, t: float, r: float, q: float, v: float) -> None:
    k = s * m
    c = bs_greeks(spot=s, strike=k, t_years=t, rate=r, div_yield=q, iv=v, right=CALL)
    p = bs_greeks(spot=s, strike=k, t_years=t, rate=r, div_yield=q, iv=v, right=PUT)
    forward_pv = s * math.exp(-q * t) - k * math.exp(-r * t)
    assert c.price - p.price == pytest.approx(forward_pv, abs=1e-9 * s)
    assert c.delta - p.delta == pytest.approx(math.exp(-q * t), abs=1e-12)
    assert c.gamma == pytest.approx(p.gamma, rel=1e-9, abs=1e-15)
    assert c.vega == pytest.approx(p.vega, rel=1e-9, abs=1e-15)


@settings(max_examples=200, deadline=None)
@given(f=st.floats(min_value=9.0, max_value=80.0), m=moneyness, t=times, r=rates, v=vols)
def test_black76_put_call_parity(f: float, m: float, t: float, r: float, v: float) -> None:
    k = f * m
    c = black76_greeks(future=f, strike=k, t_years=t, rate=r, iv=v, right=CALL)
    p = black76_greeks(future=f, strike=k, t_years=t, rate=r, iv=v, right=PUT)
    assert c.price - p.price == pytest.approx(math.exp(-r * t) * (f - k), abs=1e-10 * f)
    assert c.delta - p.delta == pytest.approx(math.exp(-r * t), abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(s=spots, m=moneyness, t=st.floats(min_value=20 / 365, max_value=2.0), r=rates, q=divs)
def test_bsm_greeks_match_finite_differences(
    s: float, m: float, t: float, r: float, q: float
) -> None:
    k, v = s * m, 0.25
    for right in (CALL, PUT):

        def price(
            spot: float = s, iv: float = v, t_years: float = t, right: Right = right
        ) -> float:
            return bs_greeks(
                spot=spot, strike=k, t_years=t_years, rate=r, div_yield=q, iv=iv, right=right
            ).price

        g = bs_greeks(spot=s, strike=k, t_years=t, rate=r, div_yield=q, iv=v, right=right)
        h = s * 1e-4
        assert g.delta == pytest.approx((price(s + h) - price(s - h)) / (2 * h), abs=1e-6)
        gamma_fd = (price(s + h) - 2 * price(s) + price(s - h)) / h**2
        assert g.gamma == pytest.approx(gamma_fd, rel=1e-3, abs=1e-6 / s)
        # vega is per 1 vol point: dPrice/dσ × 0.01.
        dv = 1e-4
        vega_fd = (price(iv=v + dv) - price(iv=v - dv)) / (2 * dv) * 0.01
        assert g.vega == pytest.approx(vega_fd, rel=1e-4, abs=1e-9 * s)
        # theta per calendar day: −dPrice/dT / 365.
        dt = 1e-5
        theta_fd = (price(t_years=t - dt) - price(t_years=t + dt)) / (2 * dt) / DAYS_PER_YEAR
        assert g.theta_per_day == pytest.approx(theta_fd, rel=1e-4, abs=1e-9 * s)


@settings(max_examples=100, deadline=None)
@given(f=st.floats(min_value=9.0, max_value=80.0), m=moneyness, t=times, r=rates)
def test_black76_greeks_match_finite_differences(f: float, m: float, t: float, r: float) -> None:
    k, v = f * m, 0.9
    for right in (CALL, PUT):

        def price(fut: float = f, iv: float = v, t_years: float = t, right: Right = right) -> float:
            return black76_greeks(
                future=fut, strike=k, t_years=t_years, rate=r, iv=iv, right=right
            ).price

        g = black76_greeks(future=f, strike=k, t_years=t, rate=r, iv=v, right=right)
        h = f * 1e-4
        assert g.delta == pytest.approx((price(f + h) - price(f - h)) / (2 * h), abs=1e-6)
        gamma_fd = (price(f + h) - 2 * price(f) + price(f - h)) / h**2
        assert g.gamma == pytest.approx(gamma_fd, rel=1e-3, abs=1e-6)
        dv = 1e-4
        vega_fd = (price(iv=v + dv) - price(iv=v - dv)) / (2 * dv) * 0.01
        assert g.vega == pytest.approx(vega_fd, rel=1e-4, abs=1e-9 * f)
        dt = 1e-5
        theta_fd = (price(t_years=t - dt) - price(t_years=t + dt)) / (2 * dt) / DAYS_PER_YEAR
        assert g.theta_per_day == pytest.approx(theta_fd, rel=1e-4, abs=1e-9 * f)


def test_vega_is_per_vol_point_not_per_unit_vol() -> None:
    g = bs_greeks(spot=100, strike=100, t_years=1.0, rate=0.0, div_yield=0.0, iv=0.2, right=CALL)
    # ATM, r=q=0: vega per unit σ = S n(σ/2) √T ≈ 39.69 → per vol point ≈ 0.3969.
    assert g.vega == pytest.approx(0.3969, abs=1e-4)


@settings(max_examples=100, deadline=None)
@given(s=spots, m=moneyness, t=times, r=rates, q=divs, v=vols)
def test_bsm_price_bounds(*, s: float, m: float, t: float, r: float, q: float, v: float) -> None:
    k = s * m
    c = bs_greeks(spot=s, strike=k, t_years=t, rate=r, div_yield=q, iv=v, right=CALL)
    p = bs_greeks(spot=s, strike=k, t_years=t, rate=r, div_yield=q, iv=v, right=PUT)
    assert max(0.0, s * math.exp(-q * t) - k * math.exp(-r * t)) - 1e-9 * s <= c.price
    assert c.price <= s * math.exp(-q * t) + 1e-9 * s
    assert 0.0 <= p.price <= k * math.exp(-r * t) + 1e-9 * s
    assert 0.0 <= c.delta <= 1.0
    assert -1.0 <= p.delta <= 0.0


# --------------------------------------------------------------------------- expiry and errors


@pytest.mark.parametrize(
    ("right", "underlying", "price", "delta"),
    [(CALL, 25.0, 5.0, 1.0), (CALL, 15.0, 0.0, 0.0), (PUT, 15.0, 5.0, -1.0), (PUT, 25.0, 0.0, 0.0)],
)
@pytest.mark.parametrize("t_years", [0.0, -0.01])
def test_at_or_past_expiry_is_intrinsic(
    right: Right, underlying: float, price: float, delta: float, t_years: float
) -> None:
    for g in (
        black76_greeks(
            future=underlying, strike=20, t_years=t_years, rate=0.04, iv=0.9, right=right
        ),
        bs_greeks(
            spot=underlying,
            strike=20,
            t_years=t_years,
            rate=0.04,
            div_yield=0.01,
            iv=0.2,
            right=right,
        ),
    ):
        assert (g.price, g.delta, g.gamma, g.vega, g.theta_per_day) == (price, delta, 0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"spot": 0.0},
        {"spot": -1.0},
        {"strike": 0.0},
        {"iv": 0.0},
        {"iv": -0.2},
        {"spot": math.nan},
        {"iv": math.inf},
        {"t_years": math.nan},
    ],
)
def test_bad_inputs_raise_value_error(kwargs: dict[str, float]) -> None:
    base: dict[str, float] = {"spot": 100.0, "strike": 100.0, "t_years": 0.5, "iv": 0.2}
    base.update(kwargs)
    with pytest.raises(ValueError, match="must be finite"):
        bs_greeks(
            spot=base["spot"],
            strike=base["strike"],
            t_years=base["t_years"],
            rate=0.04,
            div_yield=0.0,
            iv=base["iv"],
            right=CALL,
        )
    with pytest.raises(ValueError, match="must be finite"):
        black76_greeks(
            future=base["spot"],
            strike=base["strike"],
            t_years=base["t_years"],
            rate=0.04,
            iv=base["iv"],
            right=PUT,
        )


@pytest.mark.parametrize("right", [CALL, PUT])
@pytest.mark.parametrize("t_years", [0.0, 30 / 365, 1.0])
def test_vectorised_black76_matches_scalar(right: Right, t_years: float) -> None:
    strikes = np.arange(10.0, 61.0, 2.5)
    got = black76_price_array(
        future=22.3, strikes=strikes, t_years=t_years, rate=0.04, iv=0.9, right=right
    )
    want = [
        black76_greeks(future=22.3, strike=k, t_years=t_years, rate=0.04, iv=0.9, right=right).price
        for k in strikes
    ]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_vectorised_rejects_bad_strikes() -> None:
    with pytest.raises(ValueError, match="strikes"):
        black76_price_array(
            future=20, strikes=[20.0, 0.0], t_years=0.1, rate=0.0, iv=0.9, right=CALL
        )
