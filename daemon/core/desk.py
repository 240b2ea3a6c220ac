"""The order desk: proposals, their limit prices, and the SPEC §4 cost cap.

Every order the engine proposes goes through :class:`OrderDesk`:

* :meth:`OrderDesk.propose` builds one :class:`~daemon.core.model.ProposedOrder` (limit at
  the mid ± ``orders.limit_offset`` on the VIX option tick, a deterministic decision id
  and ``order_ref``, a note) and books it in the :class:`HedgeBook` (at once at its limit
  with ``assume_fills``, else as pending until its fill);
* :meth:`OrderDesk.buy` scales a buy down to the **cost cap**: open premium (held +
  pending buys) ≤ ``cost_cap_frac`` × condor credit. When the cap bites, a ``cost_cap``
  alert comes first and reports the units wanted and exactly the units proposed (the
  order carries ``is_capped``);
* :meth:`OrderDesk.sell` sells units of a layer's held hedge at its model mid;
* :meth:`OrderDesk.enforce_cap` sells hedges down, L3 first, when the cap itself shrank
  below the open premium (a new condor with less credit), so that the cap holds after
  every close.

The desk also knows each layer's current instrument (:meth:`OrderDesk.legs_for`, SPEC §4
"Instrument") and prices one unit of it with the SPEC §5 scenario
(:meth:`OrderDesk.unit`: the market mid when quoted, else Black-76 on the VX future of the
option's own expiry). Every proposal carries the scenario's inputs
(:meth:`OrderDesk.inputs`, SPEC §5.7), so it can be recomputed from its own payload. The
pricing, the withheld-market alert and those payloads are :mod:`daemon.core.quoting`'s.

No lottery tickets (issue 10): :meth:`OrderDesk.buy` never buys an option worth less than
``orders.min_premium_pts`` per share; it raises a ``rebalance`` alert saying so instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from typing import Any, ClassVar

from daemon.core import orders
from daemon.core.context import EPS_USD, LAYERS, DayCtx, DecisionIds, leg_text, round_usd
from daemon.core.hedge_book import HedgeBook, PendingOrder
from daemon.core.hedge_pricing import HedgeUnit
from daemon.core.listing import (
    COMBO_INCREMENTS,
    NetQuote,
    OptionMarket,
    StrikeListing,
    net_quote,
)
from daemon.core.model import (
    Action,
    Alert,
    AlertKind,
    Decision,
    IronCondor,
    Layer,
    MarketCheck,
    OptionLeg,
    OrderIntent,
    ProposedOrder,
    ScenarioInputs,
    ScenarioResult,
    Severity,
    SignalReading,
)
from daemon.core.params import EngineParams
from daemon.core.quoting import market_alert, price_unit, scenario_inputs, scenario_result
from daemon.core.scenario import FUTURE_SOURCE_OWN, MarketState
from daemon.core.strikes import l1_legs, l2_legs, l3_legs

__all__ = ["OrderDesk"]


class OrderDesk:
    """Proposes orders for the ladder and keeps them under the cost cap.

    Args:
        params: the frozen parameter tree.
        book: the hedge book the proposals are booked in.
        ids: the engine's decision-id sequence (shared with layer changes).
        assume_fills: True (replay/sim): each proposal fills at its limit at once.
        narrates: False for a book nobody reads the proposals of (the always-on L1
            baseline of :mod:`daemon.core.accounting`): its proposals carry no note, no
            scenario figures and no scenario inputs, which change nothing booked (the
            limit, contracts, legs and order ref are the same), and cost most of a
            proposal (issue 9).

    Attributes:
        condor: the condor being hedged (its credit sets the cap); set by the engine.
    """

    MEMENTO_CONTAINERS: ClassVar[tuple[str, ...]] = ("_traded",)
    """The attributes holding containers (:mod:`daemon.core.memento`)."""

    def __init__(
        self,
        params: EngineParams,
        book: HedgeBook,
        ids: DecisionIds,
        *,
        assume_fills: bool,
        listing: StrikeListing | None = None,
        market: OptionMarket | None = None,
        narrates: bool = True,
    ) -> None:
        self.params = params
        self.narrates = narrates
        self.book = book
        self.ids = ids
        self.assume_fills = assume_fills
        self.listing = listing
        """Listed strikes every hedge strike snaps to (None: the ``vix_strike_step_pts`` grid)."""
        self.market = market
        """Quotes of listed options (broker mode); None: every price is the model's."""
        self.condor: IronCondor | None = None
        self._traded_day: date | None = None
        self._traded: set[Layer] = set()

    # ------------------------------------------------------------------ orders per session

    def has_traded(self, ctx: DayCtx, layer: Layer) -> bool:
        """Whether ``layer`` already has a proposal in ``ctx``'s session (issue 10)."""
        return self._traded_day == ctx.session_date and layer in self._traded

    def _mark_traded(self, day: date, layer: Layer) -> None:
        if self._traded_day != day:
            self._traded_day = day
            self._traded = set()
        self._traded.add(layer)

    def traded_to_dict(self) -> dict[str, Any]:
        """Snapshot key ``traded``: the session and the layers with a proposal in it."""
        day = None if self._traded_day is None else self._traded_day.isoformat()
        return {"day": day, "layers": sorted(x.value for x in self._traded)}

    def load_traded(self, d: Mapping[str, Any] | None) -> None:
        """Restore :meth:`traded_to_dict` (None: an older snapshot, nothing traded)."""
        if d is None or d["day"] is None:
            self._traded_day, self._traded = None, set()
            return
        self._traded_day = date.fromisoformat(d["day"])
        self._traded = {Layer(x) for x in d["layers"]}

    # ------------------------------------------------------------------ instruments

    def legs_for(self, layer: Layer, state: MarketState) -> tuple[OptionLeg, ...]:
        """The layer's current instrument (SPEC §4), legs per unit."""
        p = self.params
        if layer is Layer.L1:
            return l1_legs(state, p.ladder, p.scenario, p.orders, self.listing)
        if layer is Layer.L2:
            return l2_legs(state, p.ladder, p.scenario, p.orders, self.listing)
        return l3_legs(state, p.ladder, p.scenario, p.orders, self.listing)

    def quote(self, legs: tuple[OptionLeg, ...]) -> NetQuote | None:
        """The unit's net market from the option quotes, or None (no market or no quote)."""
        return None if self.market is None else net_quote(self.market, legs)

    def unit(self, legs: tuple[OptionLeg, ...], ctx: DayCtx) -> HedgeUnit:
        """Price, scenario gain and VIX delta of one unit of ``legs`` (``ctx.state`` set).

        The net market mid and the market IV when every leg is quoted, else the Black-76
        model (:func:`daemon.core.quoting.price_unit`). Priced once per legs and quote in
        an evaluation (``ctx.units``; issue 9).
        """
        state = ctx.state
        assert state is not None  # noqa: S101 - set before any sizing
        quote = self.quote(legs)
        key = (legs, quote)
        scenario = self.params.scenario
        hit = ctx.units.get(key)
        if hit is not None and hit[0] is state and hit[1] is scenario:  # priced already
            return hit[2]
        unit = price_unit(legs, state, scenario, quote)
        ctx.units[key] = (state, scenario, unit)
        return unit

    def priced_unit(self, legs: tuple[OptionLeg, ...], ctx: DayCtx) -> HedgeUnit | None:
        """The unit :meth:`unit` already priced for ``legs`` in ``ctx``, or None (a lookup).

        For a caller that needs only the mark of a held hedge: a unit not priced yet is
        not priced for it (the Black-76 mark alone is cheaper; issue 9).
        """
        hit = ctx.units.get((legs, self.quote(legs)))
        if hit is not None and hit[0] is ctx.state and hit[1] is self.params.scenario:
            return hit[2]
        return None

    def increments(self, legs: tuple[OptionLeg, ...]) -> orders.Increments:
        """The price increments of ``legs`` from their quote, or ``()`` without one.

        A single option's market rule, a combo's net increment (from the market even when
        the option has no live quote); ``()`` → the configured VIX option ticks apply.
        """
        q = self.quote(legs)
        if q is not None:
            return q.increments
        if self.market is None:
            return ()
        # no live quote (model-priced): the contract's rule is still known
        return COMBO_INCREMENTS if len(legs) > 1 else self.market.increments(legs[0])

    def limit(self, legs: tuple[OptionLeg, ...], mid: float, *, action: Action) -> float:
        """The limit of ``mid`` (per share) on the contract's tick (else the configured one).

        ``mid`` × (1 ± ``orders.limit_offset_frac``), BUY rounded up and SELL down, at least
        one tick (:func:`daemon.core.orders.limit_price`).
        """
        op = self.params.orders
        incs = self.increments(legs)
        return orders.limit_price(
            max(mid, orders.min_tick(op, incs)), op, action=action, increments=incs
        )

    def market_check(self, legs: tuple[OptionLeg, ...]) -> MarketCheck | None:
        """The quoted market of ``legs`` (ok / wide / empty), or None without a quote."""
        q = self.quote(legs)
        return None if q is None else q.check(self.params.orders.max_spread_frac)

    def checked_market(
        self,
        ctx: DayCtx,
        *,
        layer: Layer,
        intent: OrderIntent,
        legs: tuple[OptionLeg, ...],
        reasons: tuple[SignalReading, ...],
        out: list[Decision],
    ) -> MarketCheck | None:
        """:meth:`market_check`, plus the ``order`` alert on an empty or wide market.

        The alert is appended to ``out``; the proposal is then published as not placeable
        (issue 7). Used by buys and rolls alike.
        """
        market = self.market_check(legs)
        if market is not None and market.status != "ok":
            out.append(
                market_alert(
                    self.ids,
                    ctx,
                    layer=layer,
                    intent=intent,
                    legs=legs,
                    problem=market.detail,
                    reasons=reasons,
                )
            )
        return market

    def scenario_result(
        self, unit: HedgeUnit, contracts_after: int, ctx: DayCtx
    ) -> ScenarioResult | None:
        """The SPEC §5 figures a proposal carries, for ``contracts_after`` units held.

        None for a desk that does not narrate (its proposals are never read).
        """
        if not self.narrates:
            return None
        return scenario_result(unit, contracts_after, ctx.risk, self.params.scenario)

    def inputs(self, unit: HedgeUnit | None, ctx: DayCtx) -> ScenarioInputs | None:
        """Every input of the SPEC §5 scenario behind a proposal (SPEC §5.7).

        Args:
            unit: the priced hedge unit the proposal leaves held (its expiry's future and
                the rule that gave it); ``None`` → no scenario inputs.
            ctx: the evaluation (``state`` and ``risk`` set, else ``None``).

        Returns:
            The inputs, or ``None`` without market state, condor risk or unit
            (:func:`daemon.core.quoting.scenario_inputs`).
        """
        return scenario_inputs(unit, ctx.state, ctx.risk, self.condor, self.params.scenario)

    # ------------------------------------------------------------------ the cap

    @property
    def cost_cap_usd(self) -> float:
        """The cap on open premium: ``cost_cap_frac`` × condor credit, USD (0 without condor)."""
        if self.condor is None:
            return 0.0
        return self.params.ladder.cost_cap_frac * self.condor.credit_usd

    def cap_room_usd(self) -> float:
        """Premium still allowed under the cost cap (held + pending buys count), USD."""
        used = self.book.open_premium_usd + self.book.pending_buys_usd()
        return max(0.0, self.cost_cap_usd - used)

    # ------------------------------------------------------------------ proposals

    def propose(
        self,
        ctx: DayCtx,
        *,
        layer: Layer,
        intent: OrderIntent,
        legs: tuple[OptionLeg, ...],
        action: Action,
        contracts: int,
        mid: float,
        reasons: tuple[SignalReading, ...],
        scenario: ScenarioResult | None,
        break_evens: tuple[float, ...],
        is_capped: bool,
        open_legs: tuple[OptionLeg, ...] = (),
        new_leg_mid: float | None = None,
        why: str = "",
        unit: HedgeUnit | None = None,
        price_source: str = "model",
        market: MarketCheck | None = None,
    ) -> ProposedOrder:
        """Build one ProposedOrder (limit at mid ± offset on the tick) and book it.

        Args:
            ctx: the evaluation.
            layer: the layer.
            intent: open / close / resize / roll.
            legs: legs per unit (a ROLL: the closing legs, then ``open_legs``).
            action: BUY or SELL of the whole combination.
            contracts: units (> 0).
            mid: model mid per unit, USD per share (a ROLL: |net of the legs|).
            reasons: the readings behind it.
            scenario: the SPEC §5 figures after it.
            break_evens: VIX levels at expiry where the new position breaks even.
            is_capped: scaled down by the cost cap.
            open_legs: a ROLL's opening legs (the position it leaves held).
            new_leg_mid: a ROLL's price of the opening legs, USD per share.
            why: text appended to the note.
            unit: the priced unit the proposal leaves held (the opening legs of a ROLL):
                its scenario inputs go into the proposal (:meth:`inputs`), and a future
                that is not the option's own expiry's is named in the note.
            price_source: ``"market"`` (``mid`` is the quoted mid) or ``"model"``.
            market: the quoted market it was priced from; a ``wide`` or ``empty`` one makes
                the proposal not placeable: published (the operator sees what the rules
                want), never placed, not booked and not counted as the layer's order of
                the session (the next evaluation tries again).

        Returns:
            The proposal (booked in the hedge book, or pending, unless not placeable).
        """
        op = self.params.orders
        limit = self.limit(legs, mid, action=action)
        # the members themselves: a StrEnum's str() and format() are its value, and an
        # enum's .value is a Python-level property (every proposal; issue 9)
        did = self.ids.next(ctx.session_date, "order", layer, intent)
        ref_leg = open_legs[0] if open_legs else legs[0]
        ref = orders.order_ref(
            layer=layer,
            intent=intent,
            expiry=ref_leg.expiry,
            strike=ref_leg.strike,
            decision_id=did,
        )
        mult = legs[0].multiplier
        cost = limit * mult * contracts
        is_placeable = market is None or market.status == "ok"
        note = ""
        if self.narrates:  # the baseline's proposals are never read (class docstring)
            verb = "buy" if action is Action.BUY else "sell"
            note = (
                f"{layer} {intent}: {verb} {contracts} {leg_text(legs)} @ {limit:.2f}"
                f" (${round_usd(cost):,.2f})"
            )
            if is_capped:
                note += " [cost-capped]"
            if unit is not None and unit.future_source != FUTURE_SOURCE_OWN:
                note += (
                    f" [priced on {unit.future_source} {unit.future_pts:.2f}: no VX future of "
                    f"{unit.expiry.isoformat()} quoted]"
                )
            if why:
                note += f"; {why}"
            if not is_placeable and market is not None:
                note += f" [NOT PLACED: {market.status} market: {market.detail}]"
        order = ProposedOrder(
            decision_id=did,
            ts=ctx.now,
            session_date=ctx.session_date,
            layer=layer,
            intent=intent,
            legs=legs,
            action=action,
            contracts=contracts,
            limit_price=limit,
            order_ref=ref,
            tif=op.tif,
            cost_usd=cost,
            is_capped=is_capped,
            reasons=reasons,
            scenario=scenario,
            break_evens=break_evens,
            note=note,
            inputs=self.inputs(unit, ctx) if self.narrates else None,
            price_source=price_source,
            market=market,
            is_placeable=is_placeable,
        )
        if not is_placeable:
            return order
        pending = PendingOrder(
            layer=layer,
            intent=intent,
            legs=legs,
            open_legs=open_legs or legs,
            action=action,
            contracts=contracts,
            limit_price=limit,
            new_leg_price=limit if new_leg_mid is None else new_leg_mid,
            session_date=ctx.session_date,
        )
        ctx.proposals += 1
        self._mark_traded(ctx.session_date, layer)
        if self.assume_fills:
            self.book.apply(ref, pending, contracts, limit)
        else:
            self.book.add_pending(ref, pending)
        return order

    def cap_alert(
        self,
        ctx: DayCtx,
        *,
        layer: Layer,
        intent: OrderIntent,
        wanted: int,
        got: int,
        unit_usd: float,
        what: str,
        outcome: str = "",
        why: str = "",
        reasons: tuple[SignalReading, ...],
    ) -> Alert:
        """The SPEC §4 cost-cap alert: a target was scaled down (and by how much).

        The alert names exactly what is proposed with it, so the operator never sees two
        different counts: ``got`` is the number of units the accompanying proposals buy
        (for a roll: the units opened at the new expiry), and those proposals carry
        ``is_capped``.

        Args:
            ctx: the evaluation.
            layer: the layer.
            intent: intent of the scaled-down proposal (``resize``, ``open``, ``roll``).
            wanted: units the target asked for (before the cap).
            got: units proposed (after the cap; 0 = nothing is bought).
            unit_usd: premium of one wanted unit at its limit, USD.
            what: the instrument wanted (``"VIX 2020-03-18 22C"``).
            outcome: optional text on what is done (``" (263 sold, 90 rolled; 353 held)"``).
            why: optional sizing context (``"target 353 (held 42)"``), appended.
            reasons: the readings behind the proposal.

        Returns:
            The ``cost_cap`` warning alert.
        """
        ctx.is_capped = True
        cap = self.cost_cap_usd
        msg = (
            f"{layer.value} {intent.value}: {wanted} x {what} wanted "
            f"(${round_usd(wanted * unit_usd):,.2f}), scaled down to {got} by the cost cap"
            f"{outcome}: open premium ${round_usd(self.book.open_premium_usd):,.2f} of cap "
            f"${round_usd(cap):,.2f} ({self.params.ladder.cost_cap_frac * 100:g}% of "
            "condor credit)"
        )
        if why:
            msg += f"; {why}"
        return Alert(
            decision_id=self.ids.next(ctx.session_date, "alert", "cost_cap", layer.value),
            ts=ctx.now,
            kind=AlertKind.COST_CAP,
            severity=Severity.WARNING,
            key=f"cost_cap:{layer.value}",
            message=msg,
            layer=layer,
            reasons=reasons,
        )

    def buy(
        self,
        ctx: DayCtx,
        *,
        layer: Layer,
        intent: OrderIntent,
        legs: tuple[OptionLeg, ...],
        unit: HedgeUnit,
        contracts: int,
        contracts_after_if_full: int,
        reasons: tuple[SignalReading, ...],
        why: str,
    ) -> list[Decision]:
        """Propose buying ``contracts`` units, scaled down to the cost cap (SPEC §4).

        When the cap bites, the ``cost_cap`` alert comes first and reports the units
        wanted and the units actually proposed (the order's ``contracts``, ``is_capped``).

        Args:
            ctx: the evaluation.
            layer: the layer.
            intent: open or resize.
            legs: the instrument, legs per unit.
            unit: its price and scenario figures.
            contracts: units wanted.
            contracts_after_if_full: units held after a full fill (for the scenario).
            reasons: the readings behind it.
            why: sizing context for the note.

        Returns:
            ``[cost_cap alert]`` and/or ``[proposal]``; ``[]`` for nothing to buy or an
            unpriceable unit.
        """
        if contracts <= 0 or unit.price <= 0.0 or not math.isfinite(unit.price):
            return []
        out: list[Decision] = []
        market = self.checked_market(
            ctx, layer=layer, intent=intent, legs=legs, reasons=reasons, out=out
        )
        op = self.params.orders
        if unit.price < op.min_premium_pts:
            return [self.min_premium_alert(ctx, layer=layer, legs=legs, unit=unit, why=why)]
        limit = self.limit(legs, unit.price, action=Action.BUY)
        unit_usd = limit * legs[0].multiplier
        room = self.cap_room_usd()
        n = contracts
        capped = False
        if unit_usd * n > room + EPS_USD:
            n = max(0, math.floor((room + EPS_USD) / unit_usd))
            capped = True
            out.append(
                self.cap_alert(
                    ctx,
                    layer=layer,
                    intent=intent,
                    wanted=contracts,
                    got=n,
                    unit_usd=unit_usd,
                    what=leg_text(legs),
                    why=why,
                    reasons=reasons,
                )
            )
        if n <= 0:
            return out
        after = contracts_after_if_full - (contracts - n)
        out.append(
            self.propose(
                ctx,
                layer=layer,
                intent=intent,
                legs=legs,
                action=Action.BUY,
                contracts=n,
                mid=unit.price,
                reasons=reasons,
                scenario=self.scenario_result(unit, after, ctx),
                break_evens=unit.break_evens,
                is_capped=capped,
                why=f"{contracts} wanted, {why}" if capped else why,
                unit=unit,
                price_source=unit.price_source,
                market=market,
            )
        )
        return out

    def min_premium_alert(
        self,
        ctx: DayCtx,
        *,
        layer: Layer,
        legs: tuple[OptionLeg, ...],
        unit: HedgeUnit,
        why: str,
    ) -> Alert:
        """The ``rebalance`` warning for a buy refused below ``orders.min_premium_pts``."""
        floor = self.params.orders.min_premium_pts
        return Alert(
            decision_id=self.ids.next(ctx.session_date, "alert", "min_premium", layer.value),
            ts=ctx.now,
            kind=AlertKind.REBALANCE,
            severity=Severity.WARNING,
            key=f"min_premium:{layer.value}",
            message=f"{layer.value}: {leg_text(legs)} is worth {unit.price:.3f} < "
            f"orders.min_premium_pts {floor:g} per share: not bought (no lottery tickets); "
            f"{why}",
            layer=layer,
        )

    def sell(
        self,
        ctx: DayCtx,
        *,
        layer: Layer,
        intent: OrderIntent,
        contracts: int,
        reasons: tuple[SignalReading, ...],
        is_capped: bool = False,
        why: str = "",
    ) -> list[Decision]:
        """Propose selling ``contracts`` units of the held hedge of ``layer`` at its model mid.

        Returns:
            ``[proposal]``, or ``[]`` when nothing is held or ``contracts`` <= 0.
        """
        held = self.book.get(layer)
        if held is None or contracts <= 0:
            return []
        n = min(contracts, held.contracts)
        mid = 0.0
        source = "model"
        scen: ScenarioResult | None = None
        bes: tuple[float, ...] = ()
        unit: HedgeUnit | None = None
        if ctx.state is not None and held.expiry > ctx.session_date:
            unit = self.unit(held.legs, ctx)
            mid = unit.price
            source = unit.price_source
            scen = self.scenario_result(unit, held.contracts - n, ctx)
            bes = unit.break_evens
        return [
            self.propose(
                ctx,
                layer=layer,
                intent=intent,
                legs=held.legs,
                action=Action.SELL,
                contracts=n,
                mid=mid,
                reasons=reasons,
                scenario=scen,
                break_evens=bes,
                is_capped=is_capped,
                why=why,
                unit=unit,
                price_source=source,
            )
        ]

    def enforce_cap(self, ctx: DayCtx) -> list[Decision]:
        """Sell hedges down (L3, L2, L1) when the cap shrank below the open premium.

        Not without a condor: a broker position list that lacks the condor (not loaded
        yet) must not liquidate the hedges.

        Returns:
            Per layer sold: a ``cost_cap`` alert, then the RESIZE sell.
        """
        out: list[Decision] = []
        if self.condor is None:
            return out
        cap = self.cost_cap_usd
        book = self.book
        for layer in reversed(LAYERS):
            excess = book.open_premium_usd - cap
            if excess <= EPS_USD:
                break
            held = book.get(layer)
            if held is None:
                continue
            per = held.premium_paid_usd / held.contracts
            n = min(held.contracts, math.ceil((excess - EPS_USD) / per)) if per > 0 else 0
            if n <= 0:
                continue
            ctx.is_capped = True
            reading = SignalReading(
                id="cost_cap",
                value=book.open_premium_usd,
                threshold=cap,
                holds=True,
                detail=f"open premium ${round_usd(book.open_premium_usd):,.2f} > cap "
                f"${round_usd(cap):,.2f}",
            )
            out.append(
                Alert(
                    decision_id=self.ids.next(ctx.session_date, "alert", "cost_cap", layer.value),
                    ts=ctx.now,
                    kind=AlertKind.COST_CAP,
                    severity=Severity.WARNING,
                    key=f"cost_cap:{layer.value}",
                    message=f"{layer.value} resize: selling {n} of {held.contracts} x "
                    f"{leg_text(held.legs)} to the cost cap: {reading.detail}",
                    layer=layer,
                    reasons=(reading,),
                )
            )
            out.extend(
                self.sell(
                    ctx,
                    layer=layer,
                    intent=OrderIntent.RESIZE,
                    contracts=n,
                    reasons=(reading,),
                    is_capped=True,
                    why=reading.detail,
                )
            )
        return out
