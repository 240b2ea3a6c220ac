"""The engine snapshot codec: versioned JSON of everything needed to continue identically.

The layout is one flat JSON object with sorted keys (so the same state always gives the
same bytes), ``"version": SNAPSHOT_VERSION`` and, besides the keys written here for the
positions, the keys of the other parts (signal book, ladder, :class:`PriceBoard`,
:class:`DecisionIds`, the engine's counters). Dates are ISO strings, enums their values,
prices and USD amounts plain floats.

Keys written here:

========================  ===============================================================
``hedges``                list of hedge positions (:func:`hedge_to_dict`), layer order
``pending``               ``{order_ref: pending order}`` (:func:`pending_to_dict`)
``premium_to_date_usd``   premium paid since the start, USD
``sleeve_pnl``            per-layer premium paid, realised P&L, fees; settlement VIX
``condor``                the condor (:func:`condor_to_dict`) or null
``satellite``             ``{"symbol", "notional_usd"}`` or null
========================  ===============================================================

A change of layout must bump :data:`SNAPSHOT_VERSION` (older snapshots are then refused:
the daemon re-warms from history instead of restoring wrong state).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from daemon.core.hedge_book import HedgeBook, PendingOrder
from daemon.core.model import (
    Action,
    HedgePosition,
    IronCondor,
    Layer,
    OptionLeg,
    OrderIntent,
    Right,
    Satellite,
    Symbol,
)
from daemon.errors import InvariantViolation

__all__ = [
    "SNAPSHOT_VERSION",
    "book_to_dict",
    "condor_from_dict",
    "condor_to_dict",
    "decode",
    "encode",
    "hedge_from_dict",
    "hedge_to_dict",
    "leg_from_dict",
    "leg_to_dict",
    "load_book",
    "pending_from_dict",
    "pending_to_dict",
    "satellite_from_dict",
    "satellite_to_dict",
]

SNAPSHOT_VERSION = 1
"""Version of the snapshot JSON layout; :func:`decode` refuses others."""


def encode(d: Mapping[str, Any]) -> bytes:
    """The snapshot bytes of ``d`` (``version`` added; sorted keys, compact separators)."""
    return json.dumps(
        {"version": SNAPSHOT_VERSION, **d}, sort_keys=True, separators=(",", ":")
    ).encode("utf-8")


def decode(data: bytes) -> dict[str, Any]:
    """Parse snapshot bytes and check their version.

    Args:
        data: bytes written by :func:`encode`.

    Returns:
        The JSON object.

    Raises:
        InvariantViolation: not UTF-8 JSON of an object, or another version.
    """
    try:
        d = json.loads(data.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError
        msg = f"unreadable engine snapshot: {exc}"
        raise InvariantViolation(msg) from exc
    if not isinstance(d, dict):
        msg = f"unreadable engine snapshot: a JSON {type(d).__name__}, not an object"
        raise InvariantViolation(msg)
    version = d.get("version")
    if version != SNAPSHOT_VERSION:
        msg = f"engine snapshot version {version!r}, expected {SNAPSHOT_VERSION}"
        raise InvariantViolation(msg)
    return d


def leg_to_dict(leg: OptionLeg) -> dict[str, Any]:
    """One option leg as JSON."""
    return {
        "right": leg.right.value,
        "strike": leg.strike,
        "expiry": leg.expiry.isoformat(),
        "position_qty": leg.position_qty,
        "multiplier": leg.multiplier,
        "trading_class": leg.trading_class,
    }


def leg_from_dict(d: Mapping[str, Any]) -> OptionLeg:
    """Inverse of :func:`leg_to_dict`."""
    return OptionLeg(
        right=Right(d["right"]),
        strike=float(d["strike"]),
        expiry=date.fromisoformat(d["expiry"]),
        position_qty=int(d["position_qty"]),
        multiplier=int(d["multiplier"]),
        trading_class=str(d["trading_class"]),
    )


def hedge_to_dict(h: HedgePosition) -> dict[str, Any]:
    """One held hedge as JSON."""
    return {
        "layer": h.layer.value,
        "legs": [leg_to_dict(leg) for leg in h.legs],
        "contracts": h.contracts,
        "premium_paid_usd": h.premium_paid_usd,
        "order_ref": h.order_ref,
        "opened_on": h.opened_on.isoformat(),
    }


def hedge_from_dict(d: Mapping[str, Any]) -> HedgePosition:
    """Inverse of :func:`hedge_to_dict`."""
    return HedgePosition(
        layer=Layer(d["layer"]),
        legs=tuple(leg_from_dict(x) for x in d["legs"]),
        contracts=int(d["contracts"]),
        premium_paid_usd=float(d["premium_paid_usd"]),
        order_ref=str(d["order_ref"]),
        opened_on=date.fromisoformat(d["opened_on"]),
    )


def condor_to_dict(c: IronCondor) -> dict[str, Any]:
    """The condor as JSON."""
    return {
        "short_put_strike": c.short_put_strike,
        "long_put_strike": c.long_put_strike,
        "short_call_strike": c.short_call_strike,
        "long_call_strike": c.long_call_strike,
        "expiry": c.expiry.isoformat(),
        "contracts": c.contracts,
        "net_credit": c.net_credit,
        "multiplier": c.multiplier,
        "trading_class": c.trading_class,
        "opened_on": None if c.opened_on is None else c.opened_on.isoformat(),
    }


def condor_from_dict(d: Mapping[str, Any]) -> IronCondor:
    """Inverse of :func:`condor_to_dict`."""
    opened = d["opened_on"]
    return IronCondor(
        short_put_strike=float(d["short_put_strike"]),
        long_put_strike=float(d["long_put_strike"]),
        short_call_strike=float(d["short_call_strike"]),
        long_call_strike=float(d["long_call_strike"]),
        expiry=date.fromisoformat(d["expiry"]),
        contracts=int(d["contracts"]),
        net_credit=float(d["net_credit"]),
        multiplier=int(d["multiplier"]),
        trading_class=str(d["trading_class"]),
        opened_on=None if opened is None else date.fromisoformat(opened),
    )


def satellite_to_dict(s: Satellite | None) -> dict[str, Any] | None:
    """The satellite as JSON (None stays None)."""
    if s is None:
        return None
    return {"symbol": s.symbol.value, "notional_usd": s.notional_usd}


def satellite_from_dict(d: Mapping[str, Any] | None) -> Satellite | None:
    """Inverse of :func:`satellite_to_dict`."""
    if d is None:
        return None
    return Satellite(symbol=Symbol(d["symbol"]), notional_usd=float(d["notional_usd"]))


def pending_to_dict(p: PendingOrder) -> dict[str, Any]:
    """One pending proposal as JSON."""
    return {
        "layer": p.layer.value,
        "intent": p.intent.value,
        "legs": [leg_to_dict(x) for x in p.legs],
        "open_legs": [leg_to_dict(x) for x in p.open_legs],
        "action": p.action.value,
        "contracts": p.contracts,
        "limit_price": p.limit_price,
        "new_leg_price": p.new_leg_price,
        "session_date": p.session_date.isoformat(),
    }


def pending_from_dict(d: Mapping[str, Any]) -> PendingOrder:
    """Inverse of :func:`pending_to_dict`."""
    return PendingOrder(
        layer=Layer(d["layer"]),
        intent=OrderIntent(d["intent"]),
        legs=tuple(leg_from_dict(x) for x in d["legs"]),
        open_legs=tuple(leg_from_dict(x) for x in d["open_legs"]),
        action=Action(d["action"]),
        contracts=int(d["contracts"]),
        limit_price=float(d["limit_price"]),
        new_leg_price=float(d["new_leg_price"]),
        session_date=date.fromisoformat(d["session_date"]),
    )


def book_to_dict(book: HedgeBook) -> dict[str, Any]:
    """Snapshot keys ``hedges``, ``pending`` and ``premium_to_date_usd`` of the hedge book."""
    return {
        "hedges": [hedge_to_dict(h) for h in book.hedges],
        "pending": {ref: pending_to_dict(p) for ref, p in sorted(book.pending.items())},
        "premium_to_date_usd": book.premium_paid_to_date_usd,
        "sleeve_pnl": book.pnl_state,
    }


def load_book(book: HedgeBook, d: Mapping[str, Any]) -> None:
    """Restore ``book`` from the keys written by :func:`book_to_dict`."""
    book.load(
        hedges=[hedge_from_dict(x) for x in d["hedges"]],
        pending={ref: pending_from_dict(p) for ref, p in d["pending"].items()},
        premium_paid_to_date_usd=float(d["premium_to_date_usd"]),
    )
    book.load_pnl(d.get("sleeve_pnl", {}))  # absent in snapshots written before issue 12
