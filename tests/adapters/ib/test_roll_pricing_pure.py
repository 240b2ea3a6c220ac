"""A roll priced from each leg's quote (live), the model only as a named fallback.

The roll (close the held option, open the new one; ``daemon/core/rolls.py``) is one combo:
with every leg quoted its limit is the legs' net market mid on the combo's $0.01 tick and
the proposal says ``price_source: "market"``; a leg without a quote is priced by the model
and the note names it (``"model"``); an empty or wide leg makes it not placeable, with the
``order`` alert (the same rule as any proposal).
"""

from __future__ import annotations

from datetime import date

import pytest

from daemon.core import rolls
from daemon.core.listing import OptionQuote
from daemon.core.model import Action, Alert, AlertKind, Layer, OptionLeg, ProposedOrder
from tests.unit.engine_parts import VX_MAR, ctx, desk, hedge, state, vix_call

RULE_2020 = ((0.0, 0.05), (3.0, 0.10))
DAY = date(2020, 3, 12)  # the March hedge has 6 days left < roll_dte 7


class Quotes:
    """An ``OptionMarket`` quoting by expiry: every strike of an expiry the same market."""

    def __init__(self, by_expiry: dict[date, OptionQuote]) -> None:
        self.by_expiry = by_expiry

    def quote(self, leg: OptionLeg) -> OptionQuote | None:
        return self.by_expiry.get(leg.expiry)

    def increments(self, leg: OptionLeg) -> tuple[tuple[float, float], ...]:
        return RULE_2020


def roll_of(by_expiry: dict[date, OptionQuote]) -> list[ProposedOrder | Alert]:
    d = desk(assume_fills=False)
    c = ctx(d, state(DAY))
    d.market = Quotes(by_expiry)
    d.book.set_hedges([hedge(Layer.L1, (vix_call(25.0, VX_MAR),), 4, 400.0)])
    out = rolls.rolls(d, c, set())
    assert all(isinstance(x, ProposedOrder | Alert) for x in out)
    return out  # type: ignore[return-value]


def new_expiry() -> date:
    d = desk()
    c = ctx(d, state(DAY))
    assert c.state is not None
    return d.legs_for(Layer.L1, c.state)[0].expiry


def test_a_roll_with_every_leg_quoted_is_priced_at_the_legs_net_market_mid() -> None:
    old = OptionQuote(bid=4.90, ask=5.10, iv=1.1, increments=RULE_2020)
    new = OptionQuote(bid=3.40, ask=3.60, iv=1.2, increments=RULE_2020)
    (roll,) = roll_of({VX_MAR: old, new_expiry(): new})
    assert isinstance(roll, ProposedOrder)
    assert roll.price_source == "market"
    # sell the old at its mid 5.00, buy the new at 3.50: a credit of 1.50 (SELL), on 0.01
    assert roll.action is Action.SELL
    assert roll.limit_price == pytest.approx(1.50)
    assert roll.market is not None
    assert roll.market.status == "ok"
    assert roll.is_placeable


def test_a_roll_leg_without_a_quote_falls_back_to_the_model_and_says_so() -> None:
    new = OptionQuote(bid=3.40, ask=3.60, iv=1.2, increments=RULE_2020)
    (roll,) = roll_of({new_expiry(): new})  # the expiring March option is not quoted
    assert isinstance(roll, ProposedOrder)
    assert roll.price_source == "model"
    assert "priced by the model (no quote): VIX 2020-03-18 25C" in roll.note
    assert roll.is_placeable  # no market known to be bad: the model limit goes out


def test_a_roll_with_an_empty_leg_is_proposed_not_placeable_with_the_alert() -> None:
    old = OptionQuote(bid=None, ask=5.10, iv=1.1, increments=RULE_2020)  # no bid
    new = OptionQuote(bid=3.40, ask=3.60, iv=1.2, increments=RULE_2020)
    alert, roll = roll_of({VX_MAR: old, new_expiry(): new})
    assert isinstance(alert, Alert)
    assert alert.kind is AlertKind.ORDER
    assert "NOT PLACED" in alert.message
    assert "leg 1: no bid (empty market)" in alert.message
    assert isinstance(roll, ProposedOrder)
    assert not roll.is_placeable
    assert roll.market is not None
    assert roll.market.status == "empty"
