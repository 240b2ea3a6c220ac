"""Listed strikes and quoted markets in the core (the ports the engine picks and prices by)."""

from __future__ import annotations

from datetime import date

import pytest

from daemon.core.listing import (
    CboeVixListing,
    ListedStrikes,
    NetQuote,
    OptionQuote,
    is_listed,
    listed_at_or_above,
    net_quote,
)
from daemon.core.model import OptionLeg
from daemon.errors import InvariantViolation
from tests.unit.engine_parts import vix_call

EXPIRY = date(2020, 4, 15)


def call(strike: float, qty: int = 1) -> OptionLeg:
    return vix_call(strike, EXPIRY, qty)


def test_cboe_convention_lists_what_ib_qualified_on_2020_03_18() -> None:
    # Cboe VIX options: 1-pt strikes to 30, 2.5-pt to 50, 5-pt above: the strikes the old
    # 1-point grid proposed during the crash (74C, 106C, a 74/79 spread) did not exist
    cboe = CboeVixListing()
    for unlisted in (74.0, 79.0, 106.0, 31.0, 52.0):
        assert not is_listed(cboe, unlisted)
    for listed in (10.0, 22.0, 30.0, 32.5, 47.5, 50.0, 75.0, 80.0, 105.0):
        assert is_listed(cboe, listed)
    assert listed_at_or_above(cboe, 74.0) == 75.0
    assert listed_at_or_above(cboe, 106.0) == 110.0
    assert listed_at_or_above(cboe, 30.4) == 32.5
    assert listed_at_or_above(cboe, 22.0) == 22.0  # on a strike: that strike
    assert listed_at_or_above(cboe, 500.0) == 200.0  # above the chain: the highest


def test_broker_listing_is_used_as_given() -> None:
    chain = ListedStrikes([20.0, 25.0, 30.0, 25.0])
    assert chain.strikes() == (20.0, 25.0, 30.0)
    assert listed_at_or_above(chain, 21.0) == 25.0
    with pytest.raises(InvariantViolation):
        ListedStrikes([])


class Quotes:
    def __init__(self, book: dict[float, OptionQuote]) -> None:
        self.book = book

    def quote(self, leg: OptionLeg) -> OptionQuote | None:
        return self.book.get(leg.strike)

    def increments(self, leg: OptionLeg) -> tuple[tuple[float, float], ...]:
        return ()


def test_net_quote_of_a_call_spread_buys_the_long_ask_and_sells_the_short_bid() -> None:
    market = Quotes(
        {25.0: OptionQuote(bid=1.10, ask=1.20, iv=1.05), 30.0: OptionQuote(bid=0.50, ask=0.56)}
    )
    q = net_quote(market, (call(25.0), call(30.0, -1)))
    assert q is not None
    assert q.bid == pytest.approx(1.10 - 0.56)
    assert q.ask == pytest.approx(1.20 - 0.50)
    assert q.mid == pytest.approx(0.62)
    assert q.iv == 1.05
    assert q.problem(0.5) is None
    assert net_quote(market, (call(35.0),)) is None  # a leg with no quote: no market


@pytest.mark.parametrize(
    ("quote", "problem"),
    [
        (NetQuote(bid=None, ask=0.40, iv=None), "no bid (empty market)"),
        (NetQuote(bid=0.10, ask=None, iv=None), "no ask (empty market)"),
        (NetQuote(bid=0.10, ask=0.50, iv=None), "wide market 0.1/0.5"),
    ],
)
def test_empty_or_wide_markets_are_named(quote: NetQuote, problem: str) -> None:
    found = quote.problem(0.5)
    assert found is not None
    assert found.startswith(problem)
