"""Recognise what the account holds: the short SPX iron condor, the VIX hedge legs, IWM.

Pure functions over :class:`HeldContract` (our copy of an IB position row); the only
ib_async-facing function is :func:`held_from_ib`. IB reports ``avgCost`` per contract
*including* the multiplier (an option bought at 2.50 × 100 shows 250.0), positive for
longs and shorts alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from adapters.ib.parsing import expiry_of, multiplier_of
from daemon.core.model import HedgePosition, IronCondor, Layer, OptionLeg, Right, Satellite, Symbol

SPX_TRADING_CLASSES = frozenset({"SPX", "SPXW"})
VIX_TRADING_CLASSES = frozenset({"VIX", "VIXW"})
ORDER_REF_PREFIX = "alvh:"


@dataclass(frozen=True, slots=True, kw_only=True)
class HeldContract:
    """One position row.

    Attributes:
        con_id: IB contract id.
        symbol: underlying symbol (``SPX``, ``VIX``, ``IWM``).
        sec_type: ``OPT``, ``STK``, ``FUT``...
        trading_class: ``SPXW``, ``VIX``...
        right: for options.
        strike: for options, index points.
        expiry: for options/futures.
        multiplier: from the position's contract (1 for stocks).
        position_qty: signed contracts/shares (+ long, − short).
        avg_cost_usd: IB average cost per contract incl. multiplier (per share for stocks).
    """

    con_id: int
    symbol: str
    sec_type: str
    trading_class: str
    right: Right | None
    strike: float
    expiry: date | None
    multiplier: int
    position_qty: float
    avg_cost_usd: float


def held_from_ib(position: Any) -> HeldContract | None:
    """Copy an ``ib_async.Position``; None for a row with a non-finite quantity or cost."""
    c = position.contract
    qty = float(position.position)
    cost = float(position.avgCost)
    if not (math.isfinite(qty) and math.isfinite(cost)):
        return None
    right = {"C": Right.CALL, "P": Right.PUT}.get(str(c.right)[:1].upper()) if c.right else None
    return HeldContract(
        con_id=int(c.conId),
        symbol=str(c.symbol),
        sec_type=str(c.secType),
        trading_class=str(c.tradingClass or c.symbol),
        right=right,
        strike=float(c.strike or 0.0),
        expiry=expiry_of(str(c.lastTradeDateOrContractMonth or "")),
        multiplier=multiplier_of(c.multiplier),
        position_qty=qty,
        avg_cost_usd=cost,
    )


def recognise_condor(held: Iterable[HeldContract]) -> IronCondor | None:
    """Find a short iron condor among SPX/SPXW option positions (nearest expiry first).

    A condor is, on one expiry: one short put above one long put and one short call below
    one long call, ``long_put < short_put < short_call < long_call``, all four with the same
    absolute quantity ``n``. Credit per share = (Σ short avg costs − Σ long avg costs) /
    multiplier; a non-positive credit is not a short condor.

    Returns:
        The condor, or None if no expiry holds exactly that shape.
    """
    by_expiry: dict[date, list[HeldContract]] = {}
    for h in held:
        if (
            h.sec_type == "OPT"
            and h.trading_class in SPX_TRADING_CLASSES
            and h.expiry is not None
            and h.right is not None
            and h.position_qty != 0
        ):
            by_expiry.setdefault(h.expiry, []).append(h)
    for expiry in sorted(by_expiry):
        condor = _condor_of(by_expiry[expiry], expiry)
        if condor is not None:
            return condor
    return None


def _condor_of(legs: Sequence[HeldContract], expiry: date) -> IronCondor | None:
    def one(right: Right, short: bool) -> HeldContract | None:
        found = [x for x in legs if x.right is right and (x.position_qty < 0) == short]
        return found[0] if len(found) == 1 else None

    sp, lp, sc, lc = (
        one(Right.PUT, True),
        one(Right.PUT, False),
        one(Right.CALL, True),
        one(Right.CALL, False),
    )
    if sp is None or lp is None or sc is None or lc is None or len(legs) != 4:
        return None
    sizes = {abs(x.position_qty) for x in (sp, lp, sc, lc)}
    if len(sizes) != 1:
        return None
    if not lp.strike < sp.strike < sc.strike < lc.strike:
        return None
    multipliers = {x.multiplier for x in (sp, lp, sc, lc)}
    if len(multipliers) != 1:
        return None
    multiplier = multipliers.pop()
    credit = (sp.avg_cost_usd + sc.avg_cost_usd - lp.avg_cost_usd - lc.avg_cost_usd) / multiplier
    if credit <= 0:
        return None
    return IronCondor(
        short_put_strike=sp.strike,
        long_put_strike=lp.strike,
        short_call_strike=sc.strike,
        long_call_strike=lc.strike,
        expiry=expiry,
        contracts=round(sizes.pop()),
        net_credit=round(credit, 4),
        multiplier=multiplier,
        trading_class=sp.trading_class,
    )


def layer_of(order_ref: str) -> Layer | None:
    """The ladder layer named in an alvhd orderRef (``alvh:L1:open:…``), else None."""
    parts = order_ref.split(":")
    if len(parts) < 2 or not order_ref.startswith(ORDER_REF_PREFIX):
        return None
    try:
        return Layer(parts[1])
    except ValueError:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class HedgeBook:
    """VIX option holdings split into ladder layers and the rest.

    Attributes:
        hedges: holdings mapped to a layer through the orderRef of the order that opened them.
        unmapped: VIX option holdings with no alvhd orderRef (opened by hand or elsewhere).
    """

    hedges: tuple[HedgePosition, ...]
    unmapped: tuple[HeldContract, ...]


def recognise_hedges(
    held: Iterable[HeldContract], order_refs: Mapping[int, str], *, opened_on: date
) -> HedgeBook:
    """Map long/short VIX option positions to ladder layers by orderRef.

    Legs that share an orderRef form one hedge unit (a call spread has two legs); the
    number of units is the gcd of the leg sizes; ``premium_paid_usd`` is Σ qty × avg cost
    (positive for a net debit).

    Args:
        held: the account's positions.
        order_refs: conId → orderRef of the order that opened it (from executions/orders).
        opened_on: session date to record (IB positions carry no open date).
    """
    groups: dict[str, list[HeldContract]] = {}
    unmapped: list[HeldContract] = []
    for h in held:
        if h.sec_type != "OPT" or h.trading_class not in VIX_TRADING_CLASSES or h.position_qty == 0:
            continue
        if h.right is None or h.expiry is None:
            unmapped.append(h)
            continue
        ref = order_refs.get(h.con_id, "")
        if layer_of(ref) is None:
            unmapped.append(h)
        else:
            groups.setdefault(ref, []).append(h)
    hedges: list[HedgePosition] = []
    for ref, legs in sorted(groups.items()):
        units = 0
        for leg in legs:
            units = math.gcd(units, round(abs(leg.position_qty)))
        units = max(units, 1)
        layer = layer_of(ref)
        if layer is None:  # grouped only when mapped
            continue
        hedges.append(
            HedgePosition(
                layer=layer,
                legs=tuple(
                    OptionLeg(
                        right=leg.right,  # type: ignore[arg-type]
                        strike=leg.strike,
                        expiry=leg.expiry,  # type: ignore[arg-type]
                        position_qty=round(leg.position_qty) // units,
                        multiplier=leg.multiplier,
                        trading_class=leg.trading_class,
                    )
                    for leg in sorted(legs, key=lambda x: x.strike)
                ),
                contracts=units,
                premium_paid_usd=round(sum(leg.position_qty * leg.avg_cost_usd for leg in legs), 2),
                order_ref=ref,
                opened_on=opened_on,
            )
        )
    return HedgeBook(hedges=tuple(hedges), unmapped=tuple(unmapped))


def recognise_satellite(
    held: Sequence[HeldContract], price: float | None = None
) -> Satellite | None:
    """IWM shares as the satellite: notional = shares × price (avg cost when no price).

    Returns:
        None when no (long) IWM shares are held.
    """
    shares = sum(h.position_qty for h in held if h.sec_type == "STK" and h.symbol == "IWM")
    if shares <= 0:
        return None
    if price is None or not math.isfinite(price) or price <= 0:
        rows = [h for h in held if h.sec_type == "STK" and h.symbol == "IWM"]
        price = rows[0].avg_cost_usd if rows else 0.0
    return Satellite(symbol=Symbol.IWM, notional_usd=round(shares * price, 2))


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountPositions:
    """What the account holds, in core terms (``Engine.set_positions`` arguments)."""

    condor: IronCondor | None
    hedges: tuple[HedgePosition, ...]
    unmapped_hedge_legs: tuple[HeldContract, ...]
    satellite: Satellite | None


def account_positions(
    positions: Iterable[Any],
    order_refs: Mapping[int, str],
    *,
    account: str,
    opened_on: date,
    iwm_price: float | None = None,
) -> AccountPositions:
    """Recognise condor, hedges and satellite from ``ib_async`` position rows of ``account``."""
    held = [
        h
        for p in positions
        if getattr(p, "account", account) == account
        for h in (held_from_ib(p),)
        if h is not None
    ]
    book = recognise_hedges(held, order_refs, opened_on=opened_on)
    return AccountPositions(
        condor=recognise_condor(held),
        hedges=book.hedges,
        unmapped_hedge_legs=book.unmapped,
        satellite=recognise_satellite(held, iwm_price),
    )
