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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from daemon.core.context import LAYERS
from daemon.core.model import Action, Fill, HedgePosition, Layer, OptionLeg, OrderIntent

__all__ = ["HedgeBook", "PendingOrder"]


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
    """Held hedges per layer, pending proposals and premium paid (mutable, O(1) updates)."""

    def __init__(self) -> None:
        self._hedges: dict[Layer, HedgePosition] = {}
        self._pending: dict[str, PendingOrder] = {}
        self._premium_to_date_usd = 0.0

    # ------------------------------------------------------------------ reading

    @property
    def hedges(self) -> tuple[HedgePosition, ...]:
        """Held hedge positions, in layer order."""
        return tuple(self._hedges[layer] for layer in LAYERS if layer in self._hedges)

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
        return sum(h.premium_paid_usd for h in self._hedges.values())

    def pending_buys_usd(self) -> float:
        """Premium of BUY proposals (not ROLLs) awaiting their fill, USD (counted in the cap)."""
        if not self._pending:
            return 0.0
        return sum(
            p.limit_price * p.legs[0].multiplier * p.contracts
            for p in self._pending.values()
            if p.action is Action.BUY and p.intent is not OrderIntent.ROLL
        )

    # ------------------------------------------------------------------ changes

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
        if p.intent is OrderIntent.ROLL:
            # A ratio roll (issue 10) opens ``k`` new units per combo: the legs end with
            # the opening legs × k, ``open_legs`` are per unit.
            k = max(1, p.legs[-len(p.open_legs)].position_qty // p.open_legs[0].position_qty)
            new_price = p.new_leg_price + (price - p.limit_price) / k * (
                1.0 if p.action is Action.BUY else -1.0
            )
            new_price = max(new_price, 0.0)
            contracts *= k
            cost = new_price * mult * contracts
            self._premium_to_date_usd += cost
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
            self.reduce(p.layer, contracts)

    def reduce(self, layer: Layer, contracts: int) -> None:
        """Sell ``contracts`` of the held hedge of ``layer``: its premium shrinks pro rata."""
        held = self._hedges[layer]
        left = held.contracts - contracts
        if left <= 0:
            del self._hedges[layer]
            return
        self._hedges[layer] = replace(
            held,
            contracts=left,
            premium_paid_usd=held.premium_paid_usd * left / held.contracts,
        )

    def drop(self, layer: Layer) -> None:
        """Remove the hedge of ``layer`` (it expired unrolled)."""
        del self._hedges[layer]

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
