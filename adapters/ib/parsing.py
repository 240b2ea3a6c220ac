"""Pure conversions at the IB edge: ticker and bar fields → core ``Quote``/``Bar`` or ``Rejected``.

ib_async marks "no value" as NaN (never set) or -1 (IB's empty price), and sends 0 for some
empty sides. None of that enters the core: every price is checked with ``math.isfinite``
and ``> 0`` here, and a bad point becomes a ``Rejected`` value (counted, never raised).
Delayed data (``marketDataType`` 3 or 4) is never treated as live; frozen (2) is stale.

The functions take :class:`TickerFields`, a plain snapshot of the few ``Ticker``
attributes used, so they can be tested from recorded JSON without a socket.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from daemon.core.model import Bar, Quote, Rejected, Symbol

NEW_YORK = ZoneInfo("America/New_York")
IB_EMPTY_PRICE = -1.0
"""IB's "no price" marker (``IBDefaults.emptyPrice``)."""

MARKET_DATA_LIVE = 1
MARKET_DATA_FROZEN = 2
MARKET_DATA_DELAYED = 3
MARKET_DATA_DELAYED_FROZEN = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class TickerFields:
    """The ``ib_async.Ticker`` attributes a quote is built from (NaN/-1 allowed here)."""

    market_data_type: int = MARKET_DATA_LIVE
    last: float = math.nan
    bid: float = math.nan
    ask: float = math.nan
    close: float = math.nan


def ticker_fields(ticker: Any) -> TickerFields:
    """Copy the relevant fields out of an ``ib_async.Ticker`` (no validation)."""
    return TickerFields(
        market_data_type=int(ticker.marketDataType),
        last=float(ticker.last),
        bid=float(ticker.bid),
        ask=float(ticker.ask),
        close=float(ticker.close),
    )


def session_date_of(ts: datetime) -> date:
    """The exchange (America/New_York) calendar date of a tz-aware timestamp."""
    return ts.astimezone(NEW_YORK).date()


def price_problem(value: float) -> str | None:
    """Why ``value`` is not a usable price, or None if it is (finite and > 0)."""
    if math.isnan(value):
        return "nan"
    if not math.isfinite(value):
        return "not_finite"
    if value == IB_EMPTY_PRICE:
        return "sentinel"
    if value <= 0:
        return "non_positive"
    return None


def quote_from_ticker(
    fields: TickerFields,
    *,
    symbol: Symbol,
    received_at: datetime,
    expiry: date | None = None,
) -> Quote | Rejected:
    """Build a validated quote from ticker fields, or say why not.

    The price is the last trade when one was received and is valid; when no last was ever
    received (NaN), the bid/ask mid if both sides are valid. An explicit bad last (-1, 0,
    negative) is rejected even when the book looks fine: IB sent a bad value.

    Args:
        fields: the ticker snapshot.
        symbol: the series it belongs to.
        received_at: tz-aware UTC time the tick arrived (``Quote.ts``).
        expiry: for VX futures, the contract's expiry.

    Returns:
        ``Quote`` (price > 0, finite; bid/ask only when both valid and bid <= ask), or
        ``Rejected`` with reason ``delayed`` (type 3/4), ``stale`` (frozen, type 2),
        ``nan``, ``sentinel`` (-1), ``non_positive``, ``not_finite``, ``bid_gt_ask``.
    """
    md_type = fields.market_data_type
    if md_type in (MARKET_DATA_DELAYED, MARKET_DATA_DELAYED_FROZEN):
        return Rejected(reason="delayed", symbol=symbol, detail=f"marketDataType={md_type}")
    if md_type == MARKET_DATA_FROZEN:
        return Rejected(reason="stale", symbol=symbol, detail="marketDataType=2 (frozen)")

    bid: float | None = fields.bid if price_problem(fields.bid) is None else None
    ask: float | None = fields.ask if price_problem(fields.ask) is None else None
    if bid is not None and ask is not None and bid > ask:
        return Rejected(reason="bid_gt_ask", symbol=symbol, detail=f"bid={bid} ask={ask}")
    if bid is None or ask is None:
        bid = ask = None

    last_problem = price_problem(fields.last)
    if last_problem is None:
        price = fields.last
    elif last_problem == "nan" and bid is not None and ask is not None:
        price = (bid + ask) / 2.0
    else:
        return Rejected(reason=last_problem, symbol=symbol, detail=f"last={fields.last!r}")

    return Quote(
        symbol=symbol,
        price=price,
        ts=received_at,
        session_date=session_date_of(received_at),
        bid=bid,
        ask=ask,
        expiry=expiry,
    )


def bar_from_ib(bar: Any, *, symbol: Symbol, expiry: date | None = None) -> Bar | Rejected:
    """Convert an ``ib_async.BarData`` of a daily request into a core ``Bar``.

    Args:
        bar: object with ``date`` (date or datetime), ``open``, ``high``, ``low``, ``close``.
        symbol: the series.
        expiry: for VX futures, the contract's expiry.

    Returns:
        ``Bar`` (close finite and > 0; a bad open/high/low is replaced by the close) or
        ``Rejected`` (reason of the close, or ``malformed_row`` for a missing date).
    """
    raw_day = getattr(bar, "date", None)
    if isinstance(raw_day, datetime):
        day = session_date_of(raw_day) if raw_day.tzinfo else raw_day.date()
    elif isinstance(raw_day, date):
        day = raw_day
    else:
        return Rejected(reason="malformed_row", symbol=symbol, detail=f"date={raw_day!r}")
    close = float(bar.close)
    problem = price_problem(close)
    if problem is not None:
        return Rejected(reason=problem, symbol=symbol, detail=f"{day} close={close!r}")

    def ok(value: float) -> float:
        return value if price_problem(value) is None else close

    return Bar(
        symbol=symbol,
        session_date=day,
        open=ok(float(bar.open)),
        high=ok(float(bar.high)),
        low=ok(float(bar.low)),
        close=close,
        expiry=expiry,
    )


def expiry_of(last_trade_date_or_month: str) -> date | None:
    """``"20200318"`` → date(2020, 3, 18); a month-only or empty value → None."""
    text = last_trade_date_or_month.split(" ", maxsplit=1)[0]
    if len(text) != 8 or not text.isdigit():
        return None
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


def multiplier_of(raw: str | float | int | None) -> int:
    """Contract-details multiplier as an int (empty → 1 for indices and stocks)."""
    if raw in (None, ""):
        return 1
    value = float(raw)
    if not math.isfinite(value) or value <= 0:
        return 1
    return round(value)
