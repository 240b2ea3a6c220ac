"""Rolls: SPEC §4 "Time-Shifting" of hedges near expiry.

At each session close, a held hedge with fewer than ``ladder.roll_dte`` calendar days
left is rolled (:func:`rolls`): one ROLL proposal with two legs per unit, closing the old
option and opening the layer's current instrument at its next expiry. When the cost cap
allows fewer new units than held, the rest is sold first; a hedge found past its expiry
is dropped from the sleeve with a ``roll`` alert (:func:`drop_expired`).

:func:`roll_one` is also how a rebalance moves a hedge that is below its layer's
instrument rule (:func:`min_dte`) into the current instrument instead of adding to it
(:func:`daemon.core.sizing.size_layer`).
"""

from __future__ import annotations

import math
from dataclasses import replace

from daemon.core import orders
from daemon.core.context import EPS_USD, LAYERS, DayCtx, leg_text
from daemon.core.desk import OrderDesk
from daemon.core.model import (
    Action,
    Alert,
    AlertKind,
    Decision,
    HedgePosition,
    Layer,
    OptionLeg,
    OrderIntent,
    Severity,
    SignalReading,
)
from daemon.core.params import LadderParams

__all__ = ["drop_expired", "min_dte", "roll_one", "rolls"]


def min_dte(params: LadderParams, layer: Layer) -> int:
    """Shortest DTE the layer's instrument rule allows (SPEC §4), calendar days.

    L1 and L3: the front VIX expiry with DTE >= ``l1_min_dte``; L2: DTE in
    [``l2_min_dte``, ``l2_max_dte``], so ``l2_min_dte``.
    """
    return params.l2_min_dte if layer is Layer.L2 else params.l1_min_dte


def rolls(desk: OrderDesk, ctx: DayCtx, skip: set[Layer]) -> list[Decision]:
    """SPEC §4 Time-Shifting: one ROLL (close + open) for each hedge near expiry.

    Args:
        desk: the order desk (and its hedge book).
        ctx: the close being evaluated.
        skip: layers that changed state at this close (already handled).

    Returns:
        The roll decisions, layer order; ``[]`` without market state.
    """
    out: list[Decision] = []
    state = ctx.state
    if state is None:
        return out
    roll_dte = desk.params.ladder.roll_dte
    for layer in LAYERS:
        held = desk.book.get(layer)
        if held is None or layer in skip:
            continue
        dte = (held.expiry - ctx.session_date).days
        if dte < 0:
            out.append(drop_expired(desk, ctx, held))
            continue
        if dte >= roll_dte:
            continue
        reading = SignalReading(
            id="roll_dte",
            value=float(dte),
            threshold=float(roll_dte),
            holds=True,
            detail=f"{layer.value} hedge expires {held.expiry.isoformat()}: {dte} days "
            f"left < {roll_dte}",
        )
        new_legs = desk.legs_for(layer, state)
        if new_legs[0].expiry <= held.expiry:
            continue
        out.extend(
            roll_one(desk, ctx, held, new_legs=new_legs, reasons=(reading,), why=reading.detail)
        )
    return out


def drop_expired(desk: OrderDesk, ctx: DayCtx, held: HedgePosition) -> Alert:
    """Drop a hedge past its expiry from the sleeve (it settled; it was not rolled).

    Returns:
        The ``roll`` warning alert saying so.
    """
    settle = desk.book.settlement_vix(held.expiry)
    if settle is None:  # no close seen on or after the expiry before now: today's VIX
        settle = ctx.state.vix if ctx.state is not None else 0.0
    desk.book.drop(held.layer, settle)
    return Alert(
        decision_id=desk.ids.next(ctx.session_date, "alert", "expired", held.layer.value),
        ts=ctx.now,
        kind=AlertKind.ROLL,
        severity=Severity.WARNING,
        key=f"expired:{held.layer.value}",
        message=f"{held.layer.value}: {held.contracts} x {leg_text(held.legs)} expired "
        "without a roll; removed from the sleeve",
        layer=held.layer,
    )


def roll_one(
    desk: OrderDesk,
    ctx: DayCtx,
    held: HedgePosition,
    *,
    new_legs: tuple[OptionLeg, ...],
    reasons: tuple[SignalReading, ...],
    why: str,
    target: int | None = None,
) -> list[Decision]:
    """Roll the held hedge ``held`` into ``new_legs`` (SPEC §4 Time-Shifting).

    ``target`` is the number of new units wanted: ``None`` (the ``roll_dte`` rule)
    keeps the units held; a rebalance roll passes the layer's target sized on the new
    instrument. The cost cap (room = cap − the other layers' open premium − pending
    buys; the held premium is freed by the close) may scale it down to ``n``, and the
    ``cost_cap`` alert then reports ``n`` as the units opened at the new expiry.

    A ROLL proposal closes and opens one for one per unit (the legs of a proposal
    are per-unit ratios), so a size change needs one companion order:

    * ``n < held``: the ``held − n`` old units are sold first (RESIZE; CLOSE when
      ``n == 0``), then ``n`` are rolled;
    * ``n > held``: every held unit is rolled, then ``n − held`` units of the new
      instrument are bought (RESIZE, at the new legs' limit).

    A rebalance roll for which the cap leaves no new unit keeps the held hedge (it
    still protects until the ``roll_dte`` rule rolls or closes it) and only alerts.

    Returns:
        The decisions: optional ``cost_cap`` alert, optional sell, the ROLL, optional
        buy.
    """
    out: list[Decision] = []
    layer = held.layer
    wanted = held.contracts if target is None else target
    if wanted <= 0:
        return out
    new_unit = desk.unit(new_legs, ctx)
    old_mid = 0.0
    if held.expiry > ctx.session_date:
        old_mid = desk.unit(held.legs, ctx).price
    op = desk.params.orders
    mult = new_legs[0].multiplier
    new_limit = orders.limit_price(max(new_unit.price, op.min_tick_below_3), op, action=Action.BUY)
    unit_usd = new_limit * mult
    book = desk.book
    others = book.open_premium_usd - held.premium_paid_usd + book.pending_buys_usd()
    room = desk.cost_cap_usd - others
    n = wanted
    capped = False
    if unit_usd * n > room + EPS_USD:
        n = max(0, math.floor((max(room, 0.0) + EPS_USD) / unit_usd))
        capped = True
    keep = n <= 0 and target is not None
    sold = 0 if keep else max(0, held.contracts - n)
    rolled = min(n, held.contracts)
    bought = max(0, n - held.contracts)
    if capped:
        if keep:
            outcome = f" (the {held.contracts} held are kept until their roll)"
        else:
            done = [
                f"{k} {verb}"
                for k, verb in ((sold, "sold"), (rolled, "rolled"), (bought, "bought"))
                if k
            ]
            outcome = f" ({', '.join(done)}; {held.contracts} held)"
        out.append(
            desk.cap_alert(
                ctx,
                layer=layer,
                intent=OrderIntent.ROLL,
                wanted=wanted,
                got=n,
                unit_usd=unit_usd,
                what=f"{leg_text(new_legs)} rolled from {leg_text(held.legs)}",
                outcome=outcome,
                reasons=reasons,
            )
        )
    if keep:
        return out
    if sold > 0:
        tail = (
            "the new expiry does not fit the cost cap"
            if capped
            else f"{n} units wanted at the new expiry"
        )
        out.extend(
            desk.sell(
                ctx,
                layer=layer,
                intent=OrderIntent.CLOSE if n <= 0 else OrderIntent.RESIZE,
                contracts=sold,
                reasons=reasons,
                is_capped=capped,
                why=f"{why}; {tail}",
            )
        )
    if rolled <= 0:
        return out
    close_legs = tuple(replace(leg, position_qty=-leg.position_qty) for leg in held.legs)
    net = new_unit.price - old_mid
    action = Action.BUY if net >= 0.0 else Action.SELL
    out.append(
        desk.propose(
            ctx,
            layer=layer,
            intent=OrderIntent.ROLL,
            legs=close_legs + new_legs,
            action=action,
            contracts=rolled,
            mid=abs(net),
            reasons=reasons,
            scenario=desk.scenario_result(new_unit, rolled, ctx),
            break_evens=new_unit.break_evens,
            is_capped=capped,
            open_legs=new_legs,
            new_leg_mid=new_limit,
            why=f"{wanted} wanted, {why}" if capped else why,
        )
    )
    if bought > 0:
        out.append(
            desk.propose(
                ctx,
                layer=layer,
                intent=OrderIntent.RESIZE,
                legs=new_legs,
                action=Action.BUY,
                contracts=bought,
                mid=new_unit.price,
                reasons=reasons,
                scenario=desk.scenario_result(new_unit, n, ctx),
                break_evens=new_unit.break_evens,
                is_capped=capped,
                why=(f"{wanted} wanted, " if capped else "")
                + f"{why}; {rolled} rolled, {bought} more to reach {n}",
            )
        )
    return out
