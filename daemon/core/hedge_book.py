"""The hedge book: the Second Engine sleeve's positions and what it paid (SPEC §4).

One hedge position per layer (:class:`~daemon.core.model.HedgePosition`), the orders
proposed but not yet filled (:class:`PendingOrder`, broker mode) and the premium paid.

Premium conventions (USD, positive = paid):

* ``premium_paid_usd`` of a held hedge is the premium paid for what is still held: a
  partial sale removes its pro-rata share; a roll books the new option at its own price;
* :attr:`HedgeBook.open_premium_usd` is their sum: the SPEC §4 cost-cap measure;
* :attr:`HedgeBook.premium_paid_to_date_usd` accumulates every buy (opens, resizes up and
  the opening legs of rolls).

With ``assume_fills`` (replay/sim) the engine books a proposal at once at its limit price
(:meth:`HedgeBook.apply`); otherwise the proposal waits in :meth:`HedgeBook.add_pending`
until :meth:`HedgeBook.on_fill`, pending buys count against the cap
(:meth:`HedgeBook.pending_buys_usd`), and unfilled proposals expire at the next close
(TIF DAY, :meth:`HedgeBook.expire_pending`).

P&L per layer (issue 12; USD, positive = gain), booked where the sleeve changes, at the
price of the proposal (its limit with ``assume_fills``, else the fill):

* a BUY adds its premium to the cost of the lot; a SELL realises ``proceeds − the
  pro-rata cost`` of the units sold;
* a ROLL closes the old units at ``new-leg price − net paid per unit`` (the price the
  roll implies for the old option) and opens the new ones at the new-leg price;
* a hedge dropped after its expiry realises its settlement value (intrinsic against the
  VIX close of its expiry day, :meth:`HedgeBook.record_settlement`, the SOQ proxy)
  minus its cost;
* fees: ``fee_per_contract_usd`` per contract per leg of every trade (none at expiry),
  realised at once.

So, at every close, realised + (open marks − open cost) is the sleeve's whole P&L: the
cash paid and received plus the value of what is held.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import ClassVar

from daemon.core.context import LAYERS
from daemon.core.fastinit import fast_init
from daemon.core.model import (
    Action,
    Fill,
    HedgePosition,
    Layer,
    OptionLeg,
    OrderIntent,
    Right,
)
from daemon.core.pnl import LayerPnl

__all__ = ["HedgeBook", "PendingOrder", "settlement_value"]

_LAYER_AT: dict[Layer, int] = {layer: i for i, layer in enumerate(LAYERS)}
"""Position of each layer in :data:`~daemon.core.context.LAYERS`."""


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class PendingOrder:
    """A proposal as the sleeve books it, keyed by ``order_ref``.

    Attributes:
        layer: the layer it belongs to.
        intent: open / close / resize / roll.
        legs: the proposal's legs per unit (a ROLL: the closing legs then the opening legs).
        open_legs: the legs of the position it leaves held (a ROLL: the new option;
            otherwise ``legs``).
        action: BUY or SELL of the whole combination.
        contracts: units still to fill.
        limit_price: the limit, USD per share (index points) per unit; for a ROLL the
            net of the legs (debit when BUY, credit when SELL).
        new_leg_price: per-share price of the opening legs of a ROLL (the premium the new
            position is booked at); for other intents it equals ``limit_price``.
        session_date: the session it was proposed in (TIF DAY).
    """

    layer: Layer
    intent: OrderIntent
    legs: tuple[OptionLeg, ...]
    open_legs: tuple[OptionLeg, ...]
    action: Action
    contracts: int
    limit_price: float
    new_leg_price: float
    session_date: date


class HedgeBook:
    """Held hedges per layer, pending proposals, premium paid and P&L (O(1) updates).

    Args:
        fee_per_contract_usd: fee per option contract per leg of each trade, USD (>= 0).
    """

    MEMENTO_CONTAINERS: ClassVar[tuple[str, ...]] = (
        "_hedges",
        "_pending",
        "_paid_usd",
        "_realised_usd",
        "_fees_paid_usd",
        "_settle_vix",
    )
    """The attributes holding containers (:mod:`daemon.core.memento`)."""

    def __init__(self, fee_per_contract_usd: float = 0.0) -> None:
        self._fee_usd = fee_per_contract_usd
        self._hedges: dict[Layer, HedgePosition] = {}
        self._pending: dict[str, PendingOrder] = {}
        self._premium_to_date_usd = 0.0
        self._paid_usd: dict[Layer, float] = {}
        self._realised_usd: dict[Layer, float] = {}
        self._fees_paid_usd: dict[Layer, float] = {}
        self._settle_vix: dict[date, float] = {}
        self._flat_pnls: tuple[LayerPnl | None, ...] = (None, None, None)
        """The last P&L of each layer (L1..L3) built while it held nothing (reused)."""

    # ------------------------------------------------------------------ reading

    @property
    def hedges(self) -> tuple[HedgePosition, ...]:
        """Held hedge positions, in layer order."""
        hedges = self._hedges
        return tuple([hedges[layer] for layer in LAYERS if layer in hedges])  # no generator

    def get(self, layer: Layer) -> HedgePosition | None:
        """The hedge held for ``layer``, if any."""
        return self._hedges.get(layer)

    @property
    def pending(self) -> Mapping[str, PendingOrder]:
        """Proposals awaiting their fill (broker mode), by ``order_ref``."""
        return self._pending

    @property
    def premium_paid_to_date_usd(self) -> float:
        """Premium paid for every hedge bought since the start, USD."""
        return self._premium_to_date_usd

    @property
    def open_premium_usd(self) -> float:
        """Premium paid for the hedges still held, USD (the cost-cap measure)."""
        total: float = 0  # sum()'s start: the same float as before (a loop: no generator)
        for h in self._hedges.values():
            total += h.premium_paid_usd
        return total

    def pending_buys_usd(self) -> float:
        """Premium of BUY proposals (not ROLLs) awaiting their fill, USD (counted in the cap)."""
        if not self._pending:
            return 0.0
        return sum(
            p.limit_price * p.legs[0].multiplier * p.contracts
            for p in self._pending.values()
            if p.action is Action.BUY and p.intent is not OrderIntent.ROLL
        )

    def layer_pnl(self, layer: Layer, open_mark_usd: float) -> LayerPnl:
        """The P&L of ``layer`` with its held lots marked at ``open_mark_usd`` (USD).

        A layer holding nothing has the same P&L from one close to the next until it
        trades again: the value built last time is answered while its counters are the
        very same float objects (an identity check: no new value per close; issue 9).
        """
        held = self._hedges.get(layer)
        paid = self._paid_usd.get(layer, 0.0)
        realised = self._realised_usd.get(layer, 0.0)
        fees = self._fees_paid_usd.get(layer, 0.0)
        if held is not None:
            return LayerPnl(
                premium_paid_usd=paid,
                realised_usd=realised,
                fees_usd=fees,
                open_cost_usd=held.premium_paid_usd,
                open_mark_usd=open_mark_usd,
            )
        at = _LAYER_AT[layer]
        flat = self._flat_pnls
        last = flat[at]
        if (
            last is not None
            and last.premium_paid_usd is paid
            and last.realised_usd is realised
            and last.fees_usd is fees
        ):
            return last
        pnl = LayerPnl(
            premium_paid_usd=paid, realised_usd=realised, fees_usd=fees, open_cost_usd=0.0
        )
        self._flat_pnls = (*flat[:at], pnl, *flat[at + 1 :])
        return pnl

    def traded_layers(self) -> tuple[Layer, ...]:
        """Layers with a trade so far, or a hedge held, L1..L3."""
        hedges, paid, realised = self._hedges, self._paid_usd, self._realised_usd
        if len(realised) == len(LAYERS):  # every layer has booked a trade: all of them
            return LAYERS
        return tuple(  # a list comprehension: one frame, not a generator's resumptions
            [layer for layer in LAYERS if layer in hedges or layer in paid or layer in realised]
        )

    def settlement_vix(self, expiry: date) -> float | None:
        """The VIX close recorded for ``expiry`` (the SOQ proxy), if any."""
        return self._settle_vix.get(expiry)

    @property
    def pnl_state(self) -> dict[str, dict[str, float]]:
        """P&L counters for the snapshot: per-layer paid/realised/fees, settlement VIX."""
        return {
            "paid": {k.value: v for k, v in self._paid_usd.items()},
            "realised": {k.value: v for k, v in self._realised_usd.items()},
            "fees": {k.value: v for k, v in self._fees_paid_usd.items()},
            "settle_vix": {k.isoformat(): v for k, v in self._settle_vix.items()},
        }

    # ------------------------------------------------------------------ changes

    def record_settlement(self, session_date: date, vix: float) -> None:
        """Record ``vix`` as the settlement of held expiries on or before ``session_date``.

        The first close on or after an expiry sets it (the expiry day's VIX close, or the
        next session's when the expiry was not a session). Settlements of expiries no
        longer held are forgotten.
        """
        settle = self._settle_vix
        if not settle:
            # nothing recorded: only a held expiry on or before today changes anything
            # (most closes: nothing to record; no set built; issue 9)
            for h in self._hedges.values():
                if h.legs[0].expiry <= session_date:
                    break
            else:
                return
        held = {h.expiry for h in self._hedges.values()}
        for expiry in held:
            if expiry <= session_date and expiry not in self._settle_vix:
                self._settle_vix[expiry] = vix
        for expiry in [e for e in self._settle_vix if e not in held]:
            del self._settle_vix[expiry]

    def _book(self, layer: Layer, *, paid: float = 0.0, realised: float = 0.0) -> None:
        if paid:
            self._paid_usd[layer] = self._paid_usd.get(layer, 0.0) + paid
        self._realised_usd[layer] = self._realised_usd.get(layer, 0.0) + realised

    def _charge_fees(self, p: PendingOrder, contracts: int) -> None:
        fee = self._fee_usd * len(p.legs) * contracts
        self._fees_paid_usd[p.layer] = self._fees_paid_usd.get(p.layer, 0.0) + fee
        self._book(p.layer, realised=-fee)

    def add_pending(self, ref: str, order: PendingOrder) -> None:
        """Keep a proposal until its fill (broker mode)."""
        self._pending[ref] = order

    def expire_pending(self, session_date: date) -> None:
        """TIF DAY: drop the proposals of sessions before ``session_date``."""
        if self._pending:
            self._pending = {
                ref: p for ref, p in self._pending.items() if p.session_date >= session_date
            }

    def on_fill(self, fill: Fill) -> None:
        """Book a broker fill of a pending proposal (a no-op for unknown refs).

        Args:
            fill: the execution (``contracts`` units at ``price`` per unit, USD per share).
        """
        p = self._pending.get(fill.order_ref)
        if p is None or fill.contracts <= 0:
            return
        n = min(fill.contracts, p.contracts)
        self.apply(fill.order_ref, p, n, fill.price)
        if n >= p.contracts:
            del self._pending[fill.order_ref]
        else:
            self._pending[fill.order_ref] = replace(p, contracts=p.contracts - n)

    def apply(self, ref: str, p: PendingOrder, contracts: int, price: float) -> None:
        """Book ``contracts`` units of the proposal ``p`` at ``price`` per unit.

        Args:
            ref: the proposal's ``order_ref`` (kept on a new position).
            p: the proposal.
            contracts: units filled (> 0).
            price: fill price per unit, USD per share (a ROLL: the net of its legs; the
                new option is booked at ``new_leg_price`` moved by the fill's
                improvement over the limit).
        """
        mult = p.legs[0].multiplier
        held = self._hedges.get(p.layer)
        self._charge_fees(p, contracts)
        if p.intent is OrderIntent.ROLL:
            sign = 1.0 if p.action is Action.BUY else -1.0
            # A ratio roll (issue 10) opens ``k`` new units per combo: the legs end with
            # the opening legs × k, ``open_legs`` are per unit.
            k = max(1, p.legs[-len(p.open_legs)].position_qty // p.open_legs[0].position_qty)
            new_price = p.new_leg_price + (price - p.limit_price) / k * sign
            new_price = max(new_price, 0.0)
            contracts *= k
            cost = new_price * mult * contracts
            self._premium_to_date_usd += cost
            self._book(p.layer, paid=cost)
            if held is not None and held.legs != p.open_legs:
                # The old units close at the price the roll implies for them: per combo
                # the net is k × new − r × old (a debit when BUY), r old units closed
                # per combo. The book keeps only the new lot, so every held unit is
                # closed at that price.
                r = max(1, abs(p.legs[0].position_qty) // max(1, abs(held.legs[0].position_qty)))
                old_price = (k * new_price - sign * price) / r
                self._book(
                    p.layer, realised=old_price * mult * held.contracts - held.premium_paid_usd
                )
            if held is not None and held.legs == p.open_legs:  # a second partial fill
                self._hedges[p.layer] = replace(
                    held,
                    contracts=held.contracts + contracts,
                    premium_paid_usd=held.premium_paid_usd + cost,
                )
                return
            self._hedges[p.layer] = HedgePosition(
                layer=p.layer,
                legs=p.open_legs,
                contracts=contracts,
                premium_paid_usd=cost,
                order_ref=ref,
                opened_on=p.session_date,
            )
            return
        if p.action is Action.BUY:
            cost = price * mult * contracts
            self._premium_to_date_usd += cost
            self._book(p.layer, paid=cost)
            if held is not None and held.legs == p.legs:
                self._hedges[p.layer] = replace(
                    held,
                    contracts=held.contracts + contracts,
                    premium_paid_usd=held.premium_paid_usd + cost,
                )
            else:
                self._hedges[p.layer] = HedgePosition(
                    layer=p.layer,
                    legs=p.legs,
                    contracts=contracts,
                    premium_paid_usd=cost,
                    order_ref=ref,
                    opened_on=p.session_date,
                )
            return
        if held is not None and held.legs == p.legs:
            self.reduce(p.layer, contracts, price_usd=price * mult)

    def reduce(self, layer: Layer, contracts: int, *, price_usd: float) -> None:
        """Sell ``contracts`` of the held hedge of ``layer`` at ``price_usd`` per unit.

        Its premium shrinks pro rata; proceeds − the pro-rata cost are realised.
        """
        held = self._hedges[layer]
        sold = min(contracts, held.contracts)
        cost = held.premium_paid_usd * sold / held.contracts
        self._book(layer, realised=price_usd * sold - cost)
        left = held.contracts - contracts
        if left <= 0:
            del self._hedges[layer]
            return
        self._hedges[layer] = replace(
            held,
            contracts=left,
            premium_paid_usd=held.premium_paid_usd * left / held.contracts,
        )

    def drop(self, layer: Layer, settle_vix: float) -> None:
        """Remove the hedge of ``layer`` after its expiry, realising its settlement value.

        Args:
            layer: the layer.
            settle_vix: the VIX level it settles against (SOQ proxy), points.
        """
        held = self._hedges.pop(layer)
        value = settlement_value(held.legs, settle_vix) * held.legs[0].multiplier
        self._book(layer, realised=value * held.contracts - held.premium_paid_usd)

    def set_hedges(self, hedges: Sequence[HedgePosition]) -> None:
        """Replace the held hedges with the broker's view (one per layer: last wins)."""
        self._hedges = {h.layer: h for h in hedges}

    def load(
        self,
        *,
        hedges: Sequence[HedgePosition],
        pending: Mapping[str, PendingOrder],
        premium_paid_to_date_usd: float,
    ) -> None:
        """Restore the whole book (snapshot codec)."""
        self._hedges = {h.layer: h for h in hedges}
        self._pending = dict(pending)
        self._premium_to_date_usd = premium_paid_to_date_usd

    def load_pnl(self, d: Mapping[str, Mapping[str, float]]) -> None:
        """Restore the counters written by :attr:`pnl_state` (missing keys: zero)."""
        self._paid_usd = {Layer(k): float(v) for k, v in d.get("paid", {}).items()}
        self._realised_usd = {Layer(k): float(v) for k, v in d.get("realised", {}).items()}
        self._fees_paid_usd = {Layer(k): float(v) for k, v in d.get("fees", {}).items()}
        self._settle_vix = {
            date.fromisoformat(k): float(v) for k, v in d.get("settle_vix", {}).items()
        }


def settlement_value(legs: Sequence[OptionLeg], vix: float) -> float:
    """Value at expiry of one unit of ``legs`` against ``vix``, points per share.

    Σ position_qty × intrinsic: a call max(vix − K, 0), a put max(K − vix, 0). The VIX
    close of the expiry day stands in for the Special Opening Quotation (SOQ) that VIX
    options really settle on (the SOQ is computed from SPX option opening prices on the
    expiry Wednesday morning; no history of it is in the data).
    """
    total = 0.0
    for leg in legs:
        if leg.right is Right.CALL:
            total += leg.position_qty * max(vix - leg.strike, 0.0)
        else:
            total += leg.position_qty * max(leg.strike - vix, 0.0)
    return total
