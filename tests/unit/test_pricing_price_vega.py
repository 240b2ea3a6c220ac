"""The hot-path pricing functions give the full functions' floats, bit for bit (issue 9)."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from daemon.core.model import OptionLeg, Right
from daemon.core.pricing import (
    black76_greeks,
    black76_price_delta,
    bs_greeks,
    bs_price_vega,
    bs_price_vega_legs,
    bs_prices_legs,
)

SPOTS = (1.0, 2500.0, 4700.0, 6900.0)
STRIKES = (1.0, 2000.0, 4500.0, 4700.0, 5000.0, 9000.0)
TIMES = (-0.01, 0.0, 1e-6, 1.0 / 365.0, 0.08, 0.5, 2.0)
IVS = (0.05, 0.18, 0.8, 3.0)


@pytest.mark.parametrize("right", [Right.CALL, Right.PUT])
def test_price_and_vega_are_the_same_floats_as_bs_greeks(right: Right) -> None:
    for spot, strike, t, iv in itertools.product(SPOTS, STRIKES, TIMES, IVS):
        g = bs_greeks(
            spot=spot, strike=strike, t_years=t, rate=0.04, div_yield=0.015, iv=iv, right=right
        )
        assert bs_price_vega(spot, strike, t, 0.04, 0.015, iv, right) == (g.price, g.vega)


@pytest.mark.parametrize(
    ("spot", "strike", "t", "iv"),
    [
        (float("nan"), 4700.0, 0.1, 0.2),
        (4700.0, -1.0, 0.1, 0.2),
        (4700.0, 4700.0, float("inf"), 0.2),
        (4700.0, 4700.0, 0.1, 0.0),
    ],
)
def test_bad_inputs_raise_the_same_error_as_bs_greeks(
    spot: float, strike: float, t: float, iv: float
) -> None:
    with pytest.raises(ValueError, match=r".+") as slow:
        bs_greeks(
            spot=spot, strike=strike, t_years=t, rate=0.04, div_yield=0.0, iv=iv, right=Right.PUT
        )
    with pytest.raises(ValueError, match=r".+") as fast:
        bs_price_vega(spot, strike, t, 0.04, 0.0, iv, Right.PUT)
    assert str(fast.value) == str(slow.value)


def _legs(strikes: tuple[float, ...]) -> tuple[OptionLeg, ...]:
    """A put pair and a call pair on one expiry (a condor's shape, any strikes)."""
    rights = (Right.PUT, Right.PUT, Right.CALL, Right.CALL)
    return tuple(
        OptionLeg(
            right=right,
            strike=strike,
            expiry=date(2026, 3, 20),
            position_qty=1,
            multiplier=100,
            trading_class="SPXW",
        )
        for right, strike in zip(rights, strikes, strict=True)
    )


def test_legs_of_one_expiry_price_as_bs_price_vega_one_by_one() -> None:
    """The batched condor pricing gives every leg's floats of the one-leg function."""
    for spot, t, iv_put, iv_call in itertools.product(SPOTS, TIMES, IVS, IVS):
        for strikes in itertools.combinations(STRIKES, 4):
            legs = _legs(strikes)
            got = bs_price_vega_legs(spot, t, 0.04, 0.015, iv_put, iv_call, legs)
            want = [
                bs_price_vega(
                    spot,
                    leg.strike,
                    t,
                    0.04,
                    0.015,
                    iv_call if leg.right is Right.CALL else iv_put,
                    leg.right,
                )
                for leg in legs
            ]
            assert got == want
            prices = bs_prices_legs(spot, t, 0.04, 0.015, iv_put, iv_call, legs)
            assert prices == [price for price, _ in want]


def test_legs_with_a_bad_input_raise_as_bs_price_vega() -> None:
    legs = _legs((4500.0, -1.0, 5000.0, 5100.0))
    with pytest.raises(ValueError, match="strike must be finite and > 0"):
        bs_price_vega_legs(4700.0, 0.1, 0.04, 0.0, 0.2, 0.2, legs)
    with pytest.raises(ValueError, match="iv must be finite and > 0"):
        bs_price_vega_legs(4700.0, 0.1, 0.04, 0.0, 0.2, 0.0, _legs((1.0, 2.0, 3.0, 4.0)))
    with pytest.raises(ValueError, match="strike must be finite and > 0"):
        bs_prices_legs(4700.0, 0.1, 0.04, 0.0, 0.2, 0.2, legs)
    with pytest.raises(ValueError, match="iv must be finite and > 0"):
        bs_prices_legs(4700.0, 0.1, 0.04, 0.0, 0.0, 0.2, _legs((1.0, 2.0, 3.0, 4.0)))


FUTURES = (0.5, 12.0, 18.5, 35.0, 80.0)
VIX_STRIKES = (5.0, 15.0, 20.0, 22.5, 40.0, 100.0)


@pytest.mark.parametrize("right", [Right.CALL, Right.PUT])
def test_black76_price_and_delta_are_the_same_floats_as_black76_greeks(right: Right) -> None:
    for future, strike, t, iv in itertools.product(FUTURES, VIX_STRIKES, TIMES, IVS):
        g = black76_greeks(future=future, strike=strike, t_years=t, rate=0.04, iv=iv, right=right)
        assert black76_price_delta(future, strike, t, 0.04, iv, right) == (g.price, g.delta)


def test_black76_price_delta_bad_inputs_raise_as_black76_greeks() -> None:
    for future, strike, t, iv in [(float("nan"), 20.0, 0.1, 0.8), (18.0, 20.0, 0.1, -1.0)]:
        with pytest.raises(ValueError, match=r".+") as slow:
            black76_greeks(
                future=future, strike=strike, t_years=t, rate=0.04, iv=iv, right=Right.CALL
            )
        with pytest.raises(ValueError, match=r".+") as fast:
            black76_price_delta(future, strike, t, 0.04, iv, Right.CALL)
        assert str(fast.value) == str(slow.value)
