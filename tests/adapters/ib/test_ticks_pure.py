"""Limits on the contract's real tick (IB market rule), not the configured VIX tick.

IB gives a contract's price increments as a market rule: ``ContractDetails.marketRuleIds``
→ ``reqMarketRule`` → ``PriceIncrement(lowEdge, increment)`` rows (TWS API "Market Rule";
ib_async ``IB.reqMarketRuleAsync``). VIX options ticked 0.05 below 3.00 and 0.10 from 3.00
until Cboe's cut of 2022-11-29 (then 0.01 / 0.05); a combo's net price ticks in 0.01 at
every level. The adapter puts the rule on each quote; the core rounds with it.
"""

from __future__ import annotations

from datetime import date

import pytest

from daemon.core.context import DecisionIds
from daemon.core.desk import OrderDesk
from daemon.core.hedge_book import HedgeBook
from daemon.core.listing import COMBO_INCREMENTS, OptionQuote, net_quote
from daemon.core.model import Action, OptionLeg
from daemon.core.params import EngineParams
from tests.unit.engine_parts import vix_call

RULE_2020 = ((0.0, 0.05), (3.0, 0.10))
EXPIRY = date(2020, 4, 15)


def call(strike: float, qty: int = 1) -> OptionLeg:
    return vix_call(strike, EXPIRY, qty)


class Quotes:
    """An ``OptionMarket`` over fixed quotes (by strike)."""

    def __init__(self, quotes: dict[float, OptionQuote]) -> None:
        self.quotes = quotes

    def quote(self, leg: OptionLeg) -> OptionQuote | None:
        return self.quotes.get(leg.strike)

    def increments(self, leg: OptionLeg) -> tuple[tuple[float, float], ...]:
        return RULE_2020


def desk(quotes: dict[float, OptionQuote]) -> OrderDesk:
    return OrderDesk(
        EngineParams(), HedgeBook(), DecisionIds(), assume_fills=False, market=Quotes(quotes)
    )


@pytest.mark.parametrize(
    ("bid", "ask", "buy", "sell", "config_buy"),
    [
        # below 3.00: mid 1.275 is off the 0.05 grid → BUY 1.30, SELL 1.25 (config: 1.28)
        (1.20, 1.35, 1.30, 1.25, 1.28),
        # from 3.00: mid 3.55 is off the 0.10 grid → BUY 3.60, SELL 3.50 (config: 3.55)
        (3.40, 3.70, 3.60, 3.50, 3.55),
    ],
)
def test_a_limit_is_rounded_to_the_contracts_market_rule_on_both_sides_of_3(
    bid: float, ask: float, buy: float, sell: float, config_buy: float
) -> None:
    quoted = desk({50.0: OptionQuote(bid=bid, ask=ask, iv=1.2, increments=RULE_2020)})
    legs = (call(50.0),)
    assert quoted.limit(legs, (bid + ask) / 2, action=Action.BUY) == pytest.approx(buy)
    assert quoted.limit(legs, (bid + ask) / 2, action=Action.SELL) == pytest.approx(sell)
    # live but no quote of it (model-priced): still the contract's rule, else IB refuses it
    unquoted = desk({})
    assert unquoted.limit(legs, (bid + ask) / 2, action=Action.BUY) == pytest.approx(buy)
    # no broker at all (replay, simulation): the configured 0.01/0.05 grid applies
    replay = OrderDesk(EngineParams(), HedgeBook(), DecisionIds(), assume_fills=True)
    assert replay.limit(legs, (bid + ask) / 2, action=Action.BUY) == pytest.approx(config_buy)


def test_a_spread_is_priced_on_the_combo_net_tick_not_its_legs() -> None:
    quotes = {
        65.0: OptionQuote(bid=3.40, ask=3.70, iv=1.3, increments=RULE_2020),
        70.0: OptionQuote(bid=2.45, ask=2.60, iv=1.35, increments=RULE_2020),
    }
    legs = (call(65.0), call(70.0, -1))
    net = net_quote(Quotes(quotes), legs)
    assert net is not None
    assert net.increments == COMBO_INCREMENTS
    assert net.bid == pytest.approx(0.80)
    assert net.ask == pytest.approx(1.25)
    # mid 1.025 → BUY 1.03 on the combo's 0.01 net grid (1.05 on a leg's 0.05 grid)
    assert desk(quotes).limit(legs, net.mid or 0.0, action=Action.BUY) == pytest.approx(1.03)


def test_a_spread_is_judged_per_leg_not_on_its_net_width() -> None:
    # Each leg trades in a tight market; the net 0.80/1.25 is 44% of its mid wide and a
    # deeper OTM spread would be wider still: the width of the spread, not its market.
    tight = {
        65.0: OptionQuote(bid=3.40, ask=3.70, increments=RULE_2020),
        70.0: OptionQuote(bid=2.45, ask=2.60, increments=RULE_2020),
        80.0: OptionQuote(bid=1.20, ask=1.30, increments=RULE_2020),
        85.0: OptionQuote(bid=0.95, ask=1.05, increments=RULE_2020),
    }
    deep = net_quote(Quotes(tight), (call(80.0), call(85.0, -1)))
    assert deep is not None
    assert (deep.spread_frac() or 0.0) > 0.5  # 0.15/0.35: 80% of the net mid
    assert deep.problem(0.5) is None
    # one wide leg makes the spread wide, and the problem names the leg
    wide = {**tight, 70.0: OptionQuote(bid=1.0, ask=2.6, increments=RULE_2020)}
    problem = net_quote(Quotes(wide), (call(65.0), call(70.0, -1)))
    assert problem is not None
    assert (problem.problem(0.5) or "").startswith("leg 2: wide market 1/2.6")
    # an empty leg makes it empty
    empty = {**tight, 85.0: OptionQuote(bid=None, ask=0.10, increments=RULE_2020)}
    gone = net_quote(Quotes(empty), (call(80.0), call(85.0, -1)))
    assert gone is not None
    assert gone.problem(0.5) == "leg 2: no bid (empty market)"


def test_a_one_tick_market_is_never_wide() -> None:
    one_tick = net_quote(
        Quotes({30.0: OptionQuote(bid=0.05, ask=0.10, increments=RULE_2020)}), (call(30.0),)
    )
    assert one_tick is not None
    assert one_tick.problem(0.5) is None  # 67% of the mid, but as tight as it can be
    two_ticks = net_quote(
        Quotes({30.0: OptionQuote(bid=0.05, ask=0.15, increments=RULE_2020)}), (call(30.0),)
    )
    assert two_ticks is not None
    assert "wide market" in (two_ticks.problem(0.5) or "")
