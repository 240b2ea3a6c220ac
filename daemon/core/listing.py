"""Listed VIX options: the ports the engine picks strikes and reads quotes through (pure).

The ladder rules give a *target* strike (VX future + 2 points, a 1.5-sd strike, a spread
``width`` above the long strike). Only listed strikes can be traded: IB answers anything
else with error 200. The engine therefore snaps every target to a listed strike through a
:class:`StrikeListing`:

* :class:`CboeVixListing` — the Cboe VIX option strike-interval convention (Cboe "VIX Index
  Options" product specifications, *Strike Price Intervals*, as listed 2012-2020: 1-point
  strikes from 10 to 30, 2.5-point from 30 to 50, 5-point from 50 to 200). Replay and
  simulation use it, so their proposals name strikes that existed.
* :class:`ListedStrikes` — the strikes the broker lists (IB ``reqSecDefOptParams``), built by
  the shell from the adapter's chain.

Snapping rule (SPEC §4's "rounded up" kept): the smallest listed strike at or above the
target; above the highest listed strike, the highest.

Quotes: in broker mode the shell supplies an :class:`OptionMarket` (the adapter's streamed
bid/ask/IV of the listed options near the money). A hedge unit is then priced at its net
market mid, sized with the market IV of its strike, and the proposal says
``price_source="market"``; an empty or wide market is proposed as not placeable, never
placed (an alert says so).
Without a quote (replay, simulation, or an option the adapter has no quote for) the
Black-76 model prices it and the proposal says ``price_source="model"``.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from daemon.core.fastinit import fast_init
from daemon.core.model import MarketCheck, OptionLeg
from daemon.errors import InvariantViolation

_EPS_PTS = 1e-9


class StrikeListing(Protocol):
    """Listed VIX option strikes (index points, ascending)."""

    def strikes(self) -> tuple[float, ...]:
        """Every listed strike, ascending, > 0."""
        ...


def cboe_vix_strikes(max_strike_pts: float = 200.0) -> tuple[float, ...]:
    """Cboe's VIX option strike convention: 1-pt 10-30, 2.5-pt 30-50, 5-pt 50-``max``.

    Args:
        max_strike_pts: highest strike listed, index points.

    Returns:
        The strikes, ascending.
    """
    ks = [float(k) for k in range(10, 30)]
    ks += [30.0 + 2.5 * i for i in range(8)]
    ks += [float(k) for k in range(50, int(max_strike_pts) + 1, 5)]
    return tuple(ks)


class CboeVixListing:
    """The Cboe convention (replay, simulation and the fallback without a broker chain)."""

    def __init__(self, max_strike_pts: float = 200.0) -> None:
        self._strikes = cboe_vix_strikes(max_strike_pts)

    def strikes(self) -> tuple[float, ...]:
        """Every conventional strike, ascending."""
        return self._strikes


class ListedStrikes:
    """Strikes as the broker lists them.

    Args:
        strikes: listed strikes, index points (any order; duplicates ignored).

    Raises:
        InvariantViolation: no positive strike given.
    """

    def __init__(self, strikes: Iterable[float]) -> None:
        self._strikes = tuple(sorted({float(k) for k in strikes if k > 0.0}))
        if not self._strikes:
            msg = "a strike listing needs at least one positive strike"
            raise InvariantViolation(msg)

    def strikes(self) -> tuple[float, ...]:
        """Every listed strike, ascending."""
        return self._strikes


def listed_at_or_above(listing: StrikeListing, target_pts: float) -> float:
    """The smallest listed strike ``>= target_pts`` (the highest one if none is).

    Args:
        listing: the listed strikes.
        target_pts: the rule's target strike, index points.

    Returns:
        A listed strike, index points.
    """
    ks = listing.strikes()
    i = bisect.bisect_left(ks, target_pts - _EPS_PTS)
    return ks[min(i, len(ks) - 1)]


def listed_below(listing: StrikeListing, strike_pts: float) -> float | None:
    """The largest listed strike ``< strike_pts``, or None below the lowest."""
    ks = listing.strikes()
    i = bisect.bisect_left(ks, strike_pts - _EPS_PTS)
    return ks[i - 1] if i > 0 else None


def is_listed(listing: StrikeListing, strike_pts: float) -> bool:
    """Whether ``strike_pts`` is a listed strike."""
    ks = listing.strikes()
    i = bisect.bisect_left(ks, strike_pts - _EPS_PTS)
    return i < len(ks) and abs(ks[i] - strike_pts) <= _EPS_PTS


# --------------------------------------------------------------------------- option quotes


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OptionQuote:
    """One listed option's market, per share (index points).

    Attributes:
        bid: best bid, or None (no bid).
        ask: best ask, or None (no offer).
        iv: the market's implied volatility of that strike (decimal), or None.
        increments: the contract's price increments, ``(low_edge_pts, increment_pts)``
            ascending (IB market rule from ``ContractDetails.marketRuleIds`` →
            ``reqMarketRule``); empty when not known.
    """

    bid: float | None
    ask: float | None
    iv: float | None = None
    increments: tuple[tuple[float, float], ...] = ()


COMBO_INCREMENTS: tuple[tuple[float, float], ...] = ((0.0, 0.01),)
"""Net-price increment of a VIX option combo (spread, roll): $0.01 at every price level.
Cboe prices complex orders in VIX options of any ratio in $0.01 net increments whatever
the legs' single-leg ticks (Cboe notice "Options Tick Increment Change for VIX Options",
2022-11-29: the complex-order net increment "will remain at $0.01 regardless of price
level"; Cboe Options Rules, complex orders)."""


class OptionMarket(Protocol):
    """Quotes of listed VIX options (broker mode); the engine reads it synchronously."""

    def quote(self, leg: OptionLeg) -> OptionQuote | None:
        """The latest quote of ``leg``'s option, or None when none is known."""
        ...

    def increments(self, leg: OptionLeg) -> tuple[tuple[float, float], ...]:
        """The price increments of ``leg``'s option, even without a live quote, or ``()``.

        The contract's market rule, ``(low_edge_pts, increment_pts)`` rows. A model-priced
        proposal (no quote at the close) still has to sit on the
        contract's tick, or the broker refuses it.
        """
        ...


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class NetQuote:
    """A hedge unit's market: the net of its legs (per unit, per share).

    Attributes:
        bid: Σ qty × (long legs' bids, short legs' asks), or None if a side is missing.
        ask: Σ qty × (long legs' asks, short legs' bids), or None.
        iv: the first (long) leg's implied volatility, or None.
        increments: the unit's price increments: a single option's market rule, or
            :data:`COMBO_INCREMENTS` for a combination of legs; empty when not known.
        legs: a combination's leg quotes, in leg order (empty for a single option).
    """

    bid: float | None
    ask: float | None
    iv: float | None
    increments: tuple[tuple[float, float], ...] = ()
    legs: tuple[OptionQuote, ...] = ()

    @property
    def mid(self) -> float | None:
        """(bid + ask) / 2, or None when a side is missing or the mid is not > 0."""
        if self.bid is None or self.ask is None:
            return None
        mid = (self.bid + self.ask) / 2.0
        return mid if mid > 0.0 else None

    def problem(self, max_spread_frac: float) -> str | None:
        """Why this market must not be traded blindly, or None.

        A single option: both sides quoted and ``(ask − bid) / mid <= max_spread_frac``.
        A combination (a vertical spread, a roll) is judged **per leg**, each leg by the
        same rule, and its net needs both sides and a positive mid. Its net spread is the
        sum of the legs' spreads, set against the *difference* of their prices: a 75/80
        call spread of two 4%-wide legs is 50% wide on its net, although each option
        trades in a tight market and the combo trades inside the legs' markets (Cboe's
        complex order book executes a spread against the legs' quotes, "legging", and at
        any $0.01 net price within the derived net market; Cboe Options Rules, complex
        orders). So the net relative spread measures the spread's width, not the quality
        of its market: it would refuse every out-of-the-money vertical in a crash.

        Args:
            max_spread_frac: the widest (ask − bid) / mid accepted, per option.

        Returns:
            ``"no bid (empty market)"``, ``"no ask (empty market)"``, ``"wide market …"``
            (a combination names the leg), or None.
        """
        for i, leg in enumerate(self.legs, start=1):
            bad = _side_problem(leg.bid, leg.ask, max_spread_frac, leg.increments)
            if bad is not None:
                return f"leg {i}: {bad}"
        if not self.legs:
            return _side_problem(self.bid, self.ask, max_spread_frac, self.increments)
        # a combination: a credit (a roll into a cheaper option) has a negative net
        if self.bid is None or self.ask is None:
            return "no net market (empty market)"
        if abs(self.bid + self.ask) / 2.0 <= _EPS_PTS:
            return "no net price (empty market)"
        return None

    def check(self, max_spread_frac: float) -> MarketCheck:
        """This market as a proposal carries it: ``ok``, ``wide`` or ``empty`` (:meth:`problem`).

        Args:
            max_spread_frac: the widest (ask − bid) / mid accepted, per option.
        """
        problem = self.problem(max_spread_frac)
        if problem is None:
            status = "ok"
        elif "empty market" in problem or "no positive mid" in problem:
            status = "empty"
        else:
            status = "wide"
        return MarketCheck(
            status=status,
            bid=self.bid,
            ask=self.ask,
            spread_frac=self.spread_frac(),
            detail=problem or "",
        )

    def spread_frac(self) -> float | None:
        """(ask − bid) / |mid| of the net market, or None without both sides or a mid."""
        if self.bid is None or self.ask is None:
            return None
        mid = abs(self.bid + self.ask) / 2.0
        return None if mid <= _EPS_PTS else (self.ask - self.bid) / mid


def _side_problem(
    bid: float | None,
    ask: float | None,
    max_spread_frac: float,
    increments: tuple[tuple[float, float], ...] = (),
) -> str | None:
    """Why one option's market is empty or wide (None: fine).

    A market one tick wide (the contract's increment at the bid) is the tightest there
    can be, so it is never wide, whatever its relative spread (a 0.05/0.10 option).
    """
    if ask is None or ask <= 0.0:
        return "no ask (empty market)"
    if bid is None or bid <= 0.0:
        return "no bid (empty market)"
    if increments and ask - bid <= _tick_at(increments, bid) + _EPS_PTS:
        return None
    mid = (bid + ask) / 2.0
    spread = (ask - bid) / mid
    if spread > max_spread_frac:
        return (
            f"wide market {bid:g}/{ask:g} (spread {spread:.0%} of the mid > {max_spread_frac:.0%})"
        )
    return None


def _tick_at(increments: tuple[tuple[float, float], ...], price: float) -> float:
    """The increment of ``price`` under a market rule (its first row below every edge)."""
    tick = increments[0][1]
    for low_edge, increment in increments:
        if price >= low_edge - _EPS_PTS:
            tick = increment
    return tick


def net_quote(market: OptionMarket, legs: Sequence[OptionLeg]) -> NetQuote | None:
    """The net market of one unit of ``legs``, or None when a leg has no quote at all.

    Args:
        market: the quotes.
        legs: legs per unit (signed ``position_qty``).
    """
    bid: float | None = 0.0
    ask: float | None = 0.0
    iv: float | None = None
    increments: tuple[tuple[float, float], ...] = ()
    quotes: list[OptionQuote] = []
    for i, leg in enumerate(legs):
        q = market.quote(leg)
        if q is None:
            return None
        quotes.append(q)
        if i == 0:
            iv = q.iv
            increments = q.increments
        near = q.bid if leg.position_qty > 0 else q.ask
        far = q.ask if leg.position_qty > 0 else q.bid
        bid = None if bid is None or near is None else bid + leg.position_qty * near
        ask = None if ask is None or far is None else ask + leg.position_qty * far
    if len(legs) > 1:
        return NetQuote(bid=bid, ask=ask, iv=iv, increments=COMBO_INCREMENTS, legs=tuple(quotes))
    return NetQuote(bid=bid, ask=ask, iv=iv, increments=increments)
