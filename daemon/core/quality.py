"""Quote quality checks at the engine's edge (STYLE.md §2.6: bad data is a value).

``check_quote`` is pure, O(1) and never raises: a bad quote comes back as a
:class:`~daemon.core.model.Rejected` value, which the engine counts and drops before
anything reaches the signals. Big jumps are *not* rejected (VIX can rise 50% in a day).
"""

from __future__ import annotations

import math
from datetime import datetime

from daemon.core.model import Quote, Rejected

__all__ = ["check_quote"]

_INF = math.inf


def _finite(value: object) -> bool:
    """True when ``value`` is a finite real number (False for NaN, ±inf, non-numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def _bad_side(value: float | None) -> bool:
    """True when an optional bid/ask is present but not a finite positive number."""
    if value is None:
        return False
    return not _finite(value) or value <= 0.0


def check_quote(quote: Quote) -> Rejected | None:
    """Validate one quote; return why it is refused, or ``None`` when it is usable.

    Rules (SPEC §2, STYLE.md §2.6): the price must be a finite number > 0 (index
    points / USD per share); a bid or ask, when given, must be finite and > 0, and the
    bid must not exceed the ask; the timestamp must be tz-aware (UTC by convention).

    Args:
        quote: the observation to check.

    Returns:
        ``None`` for a good quote, else ``Rejected(reason, symbol, detail)`` with
        reason one of ``"nan"`` (non-finite or non-numeric price), ``"non_positive"``,
        ``"bad_bid_ask"`` (non-finite or ≤ 0 bid/ask), ``"bid_gt_ask"``, ``"naive_ts"``
        (naive or missing timestamp).
        Never raises.
    """
    price = quote.price
    ts = quote.ts
    # The usual quote (a float price > 0, no bid/ask, an aware datetime) passes in one
    # test; any other takes the rules below (the same verdicts; every tick, issue 9).
    if (
        price.__class__ is float
        and 0.0 < price < _INF
        and quote.bid is None
        and quote.ask is None
        and ts.__class__ is datetime
        and ts.tzinfo is not None
        and ts.tzinfo.utcoffset(ts) is not None
    ):
        return None
    return _rules(quote)


def _rules(quote: Quote) -> Rejected | None:
    """:func:`check_quote`'s rules, one by one (the verdict and its detail)."""
    price = quote.price
    symbol = quote.symbol
    if not _finite(price):
        return Rejected(reason="nan", symbol=symbol, detail=f"price={price!r}")
    if price <= 0.0:
        return Rejected(reason="non_positive", symbol=symbol, detail=f"price={price!r}")
    bid = quote.bid
    ask = quote.ask
    if bid is not None or ask is not None:
        if _bad_side(bid) or _bad_side(ask):
            return Rejected(reason="bad_bid_ask", symbol=symbol, detail=f"bid={bid!r} ask={ask!r}")
        if bid is not None and ask is not None and bid > ask:
            return Rejected(reason="bid_gt_ask", symbol=symbol, detail=f"bid={bid!r} > ask={ask!r}")
    if not _aware(quote.ts):
        return Rejected(reason="naive_ts", symbol=symbol, detail=f"ts={quote.ts!r}")
    return None


def _aware(ts: object) -> bool:
    """True for a tz-aware ``datetime`` (False for naive ones and non-datetimes)."""
    if not isinstance(ts, datetime):
        return False
    tz = ts.tzinfo
    return tz is not None and tz.utcoffset(ts) is not None
