"""Deterministic decision ids and IB orderRefs; VIX option tick rounding (SPEC §6)."""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from daemon.core.model import Action, Layer, OrderIntent
from daemon.core.orders import (
    decision_id,
    format_strike,
    limit_price,
    order_ref,
    round_to_tick,
)
from daemon.core.params import OrderParams
from daemon.errors import InvariantViolation

PARAMS = OrderParams()

ref_inputs = st.fixed_dictionaries(
    {
        "layer": st.sampled_from(Layer),
        "intent": st.sampled_from(OrderIntent),
        "expiry": st.dates(min_value=date(2004, 1, 1), max_value=date(2099, 12, 31)),
        "strike": st.integers(min_value=1, max_value=400_000).map(lambda k: k / 4),
        "decision_id": st.builds(decision_id, st.integers(), st.text(max_size=30)),
    }
)


def test_decision_id_is_deterministic_16_hex() -> None:
    a = decision_id(date(2020, 3, 2), Layer.L1, OrderIntent.OPEN, 0)
    assert a == decision_id(date(2020, 3, 2), Layer.L1, OrderIntent.OPEN, 0)
    assert re.fullmatch(r"[0-9a-f]{16}", a)
    assert a != decision_id(date(2020, 3, 2), Layer.L1, OrderIntent.OPEN, 1)
    assert a != decision_id(date(2020, 3, 3), Layer.L1, OrderIntent.OPEN, 0)
    # a known value (sha256 of "2020-03-02|L1|open|0"), so a change of scheme is noticed:
    # it would re-issue every order after an upgrade.
    assert a == "47ce1bd9cdd7d6d5"


def test_decision_id_needs_parts() -> None:
    with pytest.raises(InvariantViolation):
        decision_id()


def test_order_ref_layout() -> None:
    ref = order_ref(
        layer=Layer.L1,
        intent=OrderIntent.OPEN,
        expiry=date(2020, 3, 18),
        strike=22.0,
        decision_id="3f9a0c1d2e4b5a69",
    )
    assert ref == "alvh:L1:open:20200318:22:3f9a0c1d2e4b5a69"
    assert (
        order_ref(
            layer=Layer.L3,
            intent=OrderIntent.RESIZE,
            expiry=date(2020, 3, 18),
            strike=22.5,
            decision_id="abc",
        )
        == "alvh:L3:resize:20200318:22.5:abc"
    )


@given(inputs=ref_inputs)
def test_order_ref_is_short_deterministic_and_carries_its_fields(inputs: dict[str, Any]) -> None:
    ref = order_ref(**inputs)
    assert len(ref) <= 64
    assert ref == order_ref(**inputs)
    prefix, layer, intent, yyyymmdd, strike, did = ref.split(":")
    assert (prefix, layer, intent) == ("alvh", inputs["layer"].value, inputs["intent"].value)
    assert yyyymmdd == inputs["expiry"].strftime("%Y%m%d")
    assert float(strike) == inputs["strike"]
    assert did == inputs["decision_id"]


@given(a=ref_inputs, b=ref_inputs)
def test_order_ref_differs_when_any_input_differs(a: dict[str, Any], b: dict[str, Any]) -> None:
    assume(a != b)
    assert order_ref(**a) != order_ref(**b)


@pytest.mark.parametrize("bad", ["", "a:b", "with space", "x" * 60])
def test_order_ref_rejects_bad_decision_ids(bad: str) -> None:
    with pytest.raises(InvariantViolation):
        order_ref(
            layer=Layer.L2,
            intent=OrderIntent.ROLL,
            expiry=date(2020, 1, 1),
            strike=30,
            decision_id=bad,
        )


@pytest.mark.parametrize(
    ("strike", "text"), [(22.0, "22"), (22.5, "22.5"), (3175.0, "3175"), (17.25, "17.25")]
)
def test_format_strike(strike: float, text: str) -> None:
    assert format_strike(strike) == text


@pytest.mark.parametrize(
    ("price", "action", "expected"),
    [
        (1.234, Action.BUY, 1.24),
        (1.234, Action.SELL, 1.23),
        (1.35, Action.BUY, 1.35),  # already on the grid (1.35/0.01 is not exact in binary)
        (1.35, Action.SELL, 1.35),
        (3.01, Action.BUY, 3.05),  # 0.05 tick at or above 3.00
        (3.04, Action.SELL, 3.00),
        (2.995, Action.BUY, 3.00),
        (2.999, Action.SELL, 2.99),
        (4.20, Action.BUY, 4.20),
        (4.20, Action.SELL, 4.20),
        (0.004, Action.SELL, 0.01),  # never a zero limit
        (0.004, Action.BUY, 0.01),
    ],
)
def test_round_to_tick_table(price: float, action: Action, expected: float) -> None:
    assert round_to_tick(price, PARAMS, action=action) == expected


@given(price=st.floats(min_value=0.01, max_value=200.0), action=st.sampled_from(Action))
def test_round_to_tick_properties(price: float, action: Action) -> None:
    got = round_to_tick(price, PARAMS, action=action)
    tick = 0.05 if got >= 3.0 else 0.01
    assert got > 0
    assert math.isclose(got / tick, round(got / tick), abs_tol=1e-6)  # on the grid
    if action is Action.BUY:
        assert price - 1e-9 <= got < price + 0.05 + 1e-9  # up, by less than a tick
    else:
        assert price - 0.05 - 1e-9 < got <= price + 1e-9  # down, by less than a tick


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_round_to_tick_rejects_bad_prices(bad: float) -> None:
    with pytest.raises(InvariantViolation):
        round_to_tick(bad, PARAMS, action=Action.BUY)


def test_limit_price_applies_offset_then_rounds_against_us() -> None:
    p = OrderParams(limit_offset_frac=0.02)
    assert limit_price(1.00, p, action=Action.BUY) == 1.02
    assert limit_price(1.00, p, action=Action.SELL) == 0.98
    assert limit_price(5.00, p, action=Action.BUY) == 5.10
    assert limit_price(5.00, p, action=Action.SELL) == 4.90
    assert limit_price(1.234, PARAMS, action=Action.BUY) == 1.24  # zero offset: the mid, rounded
    with pytest.raises(InvariantViolation):
        limit_price(0.0, PARAMS, action=Action.BUY)
