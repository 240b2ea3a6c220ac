"""Option markets at the IB edge: a leg's bid/ask/IV, a combo's net market, the real limit.

Pure functions over plain values (tested without a socket). A limit is never derived from
a model when the market is there: it is the market mid plus the configured offset, on the
contract's real price increment (IB market rules, ``ContractDetails.marketRuleIds`` →
``reqMarketRule``; https://interactivebrokers.github.io/tws-api/minimum_increment.html).
An empty market (no bid or no ask) or a wide one (spread above ``max_spread_frac`` of the
mid) is not traded blindly: :func:`market_limit` returns the reason instead of a price.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

_EPS_TICKS = 1e-9


@dataclass(frozen=True, slots=True, kw_only=True)
class LegMarket:
    """One option's market (per share, index points); None = no such side.

    Attributes:
        bid: best bid, or None (IB sent -1/size 0, or nothing).
        ask: best ask, or None.
        iv: IB's model implied volatility (decimal), or None.
        delta: IB's model delta per share, or None.
    """

    bid: float | None
    ask: float | None
    iv: float | None = None
    delta: float | None = None


def clean(value: object) -> float | None:
    """A finite, positive price or None (NaN, -1 and 0 are "no value" in ib_async)."""
    try:
        x = float(str(value))
    except ValueError:
        return None
    return x if math.isfinite(x) and x > 0.0 else None


def net_market(legs: Sequence[tuple[int, LegMarket]]) -> LegMarket:
    """The net market of a combo per unit: Σ qty × leg (long legs +, short legs −).

    The net bid sells longs at their bid and buys shorts at their ask; the net ask the
    reverse. A missing side on any leg makes that net side missing.

    Args:
        legs: ``(position_qty per unit, market)`` for each leg.
    """
    if len(legs) == 1 and legs[0][0] == 1:
        return legs[0][1]
    bid: float | None = 0.0
    ask: float | None = 0.0
    for qty, m in legs:
        near = m.bid if qty > 0 else m.ask
        far = m.ask if qty > 0 else m.bid
        bid = None if bid is None or near is None else bid + qty * near
        ask = None if ask is None or far is None else ask + qty * far
    return LegMarket(bid=bid, ask=ask)


def _tick_at(increments: Sequence[tuple[float, float]], price: float) -> float:
    tick = increments[0][1]
    for low_edge, increment in increments:
        if price >= low_edge - 1e-12:
            tick = increment
    return tick


def round_to_increment(
    price: float, increments: Sequence[tuple[float, float]], *, is_buy: bool
) -> float:
    """Round ``price`` onto the market rule's increment, never in the trader's favour.

    Args:
        price: per share, > 0.
        increments: ``(low_edge, increment)`` rows of the market rule, ascending.
        is_buy: BUY rounds up, SELL down (held at one increment above 0).

    Returns:
        The price on the grid.
    """
    tick = 0.01
    for low_edge, increment in increments:
        if price >= low_edge - 1e-12:
            tick = increment
    n = price / tick
    steps = math.ceil(n - _EPS_TICKS) if is_buy else max(1, math.floor(n + _EPS_TICKS))
    exponent = Decimal(str(tick)).normalize().as_tuple().exponent
    places = max(0, -exponent) if isinstance(exponent, int) else 2
    return round(steps * tick, places)


def _spread_problem(
    m: LegMarket, max_spread_frac: float, increments: Sequence[tuple[float, float]] = ()
) -> str | None:
    """Why one market is empty or wide (None: fine; one tick wide is never wide)."""
    if m.ask is None:
        return "no ask (empty market)"
    if m.bid is None or m.bid <= 0.0:
        return "no bid (empty market)"
    if increments and m.ask - m.bid <= _tick_at(increments, m.bid) + 1e-9:
        return None
    mid = (m.bid + m.ask) / 2.0
    spread_frac = (m.ask - m.bid) / mid
    if spread_frac > max_spread_frac:
        return (
            f"wide market {m.bid:g}/{m.ask:g}: spread {spread_frac:.0%} of mid "
            f"> {max_spread_frac:.0%}"
        )
    return None


def market_limit(
    market: LegMarket,
    *,
    is_buy: bool,
    offset_frac: float,
    max_spread_frac: float,
    increments: Sequence[tuple[float, float]],
    legs: Sequence[LegMarket] = (),
    leg_increments: Sequence[Sequence[tuple[float, float]]] = (),
) -> float | str:
    """The limit from the market: mid × (1 ± offset) on the increment, or why not.

    A single option is judged on its own spread; a combination (``legs`` given, more
    than one) per leg, each by the same rule, with a net market that has both sides and a
    positive mid: a vertical's net spread is the sum of its legs' spreads over the
    difference of their prices, a measure of its width, not of its market (the same rule
    as the engine's, :meth:`daemon.core.listing.NetQuote.problem`).

    Args:
        market: the (net) market per unit.
        is_buy: BUY or SELL.
        offset_frac: the configured offset (0 = the mid).
        max_spread_frac: largest (ask − bid) / mid traded (per option).
        increments: the market rule.
        legs: a combination's legs' markets (empty or one: a single option).
        leg_increments: each leg's market rule (a one-tick-wide leg is never wide).

    Returns:
        The limit per unit (> 0), or a one-line reason: ``"no bid"``, ``"no ask"``,
        ``"wide market ..."`` (``"leg 2: ..."`` for a combination).
    """
    if len(legs) > 1:
        incs = list(leg_increments) or [() for _ in legs]
        for i, (leg, inc) in enumerate(zip(legs, incs, strict=True), start=1):
            bad = _spread_problem(leg, max_spread_frac, inc)
            if bad is not None:
                return f"leg {i}: {bad}"
        if market.ask is None or market.bid is None:
            return "no net market (empty market)"
        mid = (market.bid + market.ask) / 2.0
        if mid <= 0.0:
            return f"non-positive mid {mid:g}"
    else:
        bad = _spread_problem(market, max_spread_frac, increments)
        if bad is not None:
            return bad
        assert market.bid is not None  # noqa: S101 - checked above
        assert market.ask is not None  # noqa: S101 - checked above
        mid = (market.bid + market.ask) / 2.0
    target = mid * (1.0 + offset_frac if is_buy else 1.0 - offset_frac)
    return round_to_increment(target, increments, is_buy=is_buy)
