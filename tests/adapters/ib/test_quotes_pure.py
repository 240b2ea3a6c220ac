"""The IB-edge market helpers: net combo markets and limits on IB market-rule increments."""

from __future__ import annotations

import pytest

from adapters.ib.quotes import LegMarket, clean, market_limit, net_market, round_to_increment

VIX_RULE = [(0.0, 0.01), (3.0, 0.05)]  # IB market rule of VIX options (Cboe penny class)


def test_round_to_increment_follows_the_market_rule_never_in_our_favour() -> None:
    assert round_to_increment(1.231, VIX_RULE, is_buy=True) == 1.24
    assert round_to_increment(1.239, VIX_RULE, is_buy=False) == 1.23
    assert round_to_increment(3.21, VIX_RULE, is_buy=True) == 3.25
    assert round_to_increment(3.24, VIX_RULE, is_buy=False) == 3.2
    assert round_to_increment(0.001, VIX_RULE, is_buy=False) == 0.01  # a limit stays > 0


def test_market_limit_is_mid_plus_offset_or_the_reason_not_to_trade() -> None:
    m = LegMarket(bid=1.18, ask=1.26)
    assert market_limit(
        m, is_buy=True, offset_frac=0.0, max_spread_frac=0.5, increments=VIX_RULE
    ) == pytest.approx(1.22)
    assert market_limit(
        m, is_buy=True, offset_frac=0.1, max_spread_frac=0.5, increments=VIX_RULE
    ) == pytest.approx(1.35)
    empty = LegMarket(bid=None, ask=0.05)
    assert "no bid" in str(
        market_limit(empty, is_buy=True, offset_frac=0, max_spread_frac=0.5, increments=VIX_RULE)
    )
    wide = LegMarket(bid=0.10, ask=0.60)
    assert "wide market" in str(
        market_limit(wide, is_buy=True, offset_frac=0, max_spread_frac=0.5, increments=VIX_RULE)
    )


def test_net_market_of_a_spread_and_ib_empty_values() -> None:
    spread = net_market([(1, LegMarket(bid=2.0, ask=2.2)), (-1, LegMarket(bid=0.9, ask=1.0))])
    assert (spread.bid, spread.ask) == pytest.approx((1.0, 1.3))
    assert (
        net_market([(1, LegMarket(bid=None, ask=2.2)), (-1, LegMarket(bid=0.9, ask=1.0))]).bid
        is None
    )
    # ib_async marks "no value" as NaN, IB as -1; 0 is an empty side
    assert [clean(x) for x in (float("nan"), -1.0, 0.0, 1.5, "x")] == [None, None, None, 1.5, None]
