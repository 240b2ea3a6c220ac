"""Rolls: SPEC §4 "Time-Shifting" of hedges near expiry.

At each session close, a held hedge with fewer than ``ladder.roll_dte`` calendar days
left is rolled (:func:`rolls`): one ROLL proposal, closing the old option and opening the
layer's current instrument at its next expiry. A layer rolled at a close is not re-sized
again at that close (one order per layer per close; the next rebalance sizes it). A hedge
found past its expiry is dropped from the sleeve with a ``roll`` alert
(:func:`drop_expired`).

A roll is always ONE proposal (issue 10), even when the number of units changes (a
rebalance re-strike sized to the new target, or the cost cap allowing fewer new units):
its legs are ratios, ``−h/g`` of the old option and ``+n/g`` of the new one per combo,
``g = gcd(h, n)`` combos (IB BAG orders carry leg ratios). With ``n = h`` it is the usual
1:1 calendar roll.

:func:`roll_one` is also how a rebalance moves a hedge that is outside its layer's rules
(:func:`add_floor_dte`, ``ladder.max_otm_pts``, ``ladder.l2_max_strike_sd``,
``orders.min_premium_pts``) into the current instrument instead of adding to it
(:func:`daemon.core.sizing.size_layer`).
"""

from __future__ import annotations

import math

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

__all__ = ["add_floor_dte", "cadence_calendar_days", "drop_expired", "min_dte", "roll_one", "rolls"]


def min_dte(params: LadderParams, layer: Layer) -> int:
    """Shortest DTE the layer's instrument rule allows (SPEC §4), calendar days.

    L1 and L3: the front VIX expiry with DTE >= ``l1_min_dte``; L2: DTE in
    [``l2_min_dte``, ``l2_max_dte``], so ``l2_min_dte``.
    """
    return params.l2_min_dte if layer is Layer.L2 else params.l1_min_dte


def cadence_calendar_days(params: LadderParams) -> int:
    """The rebalance cadence in calendar days: ``ceil(rebalance_every_days × 7 / 5)``.

    5 trading sessions span 7 calendar days (a holiday adds one that this ignores).
    """
    return math.ceil(params.rebalance_every_days * 7 / 5)


def add_floor_dte(params: LadderParams) -> int:
    """Shortest DTE at which a held hedge is still added to, calendar days.

    ``roll_dte + cadence_calendar_days``: an option the SPEC §4 roll rule (DTE <
    ``roll_dte``) would roll before the next scheduled rebalance is not added to (the
    added units would pay the spread twice); it is rolled into the layer's current
    instrument instead. While DTE is at or above it, the held option is inside the SPEC's
    rules and a rebalance adds to it. With the defaults, 7 + 7 = 14 days (L1's own
    minimum); an L2 opened at 30–60 days is added to until 14 days are left, not rolled
    when it drifts below 30 (issue 10).
    """
    return params.roll_dte + cadence_calendar_days(params)


def rolls(desk: OrderDesk, ctx: DayCtx, skip: set[Layer]) -> list[Decision]:
    """SPEC §4 Time-Shifting: one ROLL (close + open) for each hedge near expiry.

    A layer that already has an order this session (an intraday ``big_move`` re-size,
    :meth:`~daemon.core.desk.OrderDesk.has_traded`) is rolled at the next close instead
    (one order per layer per session); the rebalance of the same close leaves a rolled
    layer alone for the same reason, and the next rebalance re-sizes it.

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
    held_of = desk.book.get  # the book is not replaced during the loop
    for layer in LAYERS:
        held = held_of(layer)
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
        if new_legs[0].expiry <= held.expiry or desk.has_traded(ctx, layer):
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
    """Roll the held hedge ``held`` into ``new_legs`` as ONE proposal (SPEC §4, issue 10).

    ``target`` is the number of new units wanted: ``None`` (the ``roll_dte`` rule)
    keeps the units held; a rebalance roll (re-strike) passes the layer's target sized on
    the new instrument. The cost cap (room = cap − the other layers' open premium −
    pending buys; the held premium is freed by the close) may scale it down to ``n``,
    and the ``cost_cap`` alert then reports ``n`` as the units opened.

    The proposal closes all ``h`` held units and opens ``n`` new ones: its legs per combo
    are the old legs × ``−h/g`` and the new legs × ``+n/g`` with ``g = gcd(h, n)``, and it
    is for ``g`` combos (a plain 1:1 roll when ``n == h``). Its limit is the net of the
    legs at their model mids (BUY for a debit, SELL for a credit). When the cap leaves no
    new unit, the ``roll_dte`` rule closes the hedge (one CLOSE), while a rebalance roll
    keeps it (it still protects until its ``roll_dte`` roll) and only alerts.

    Returns:
        The decisions: optional ``cost_cap`` alert, then the ROLL (or CLOSE).
    """
    out: list[Decision] = []
    layer = held.layer
    wanted = held.contracts if target is None else target
    if wanted <= 0:
        return out
    new_unit = desk.unit(new_legs, ctx)
    old_mid = 0.0
    # each leg at its market mid when the live source quotes it, else the model (named)
    # (the legs; named in the note only with a live option market: issue 9)
    model_priced: list[tuple[OptionLeg, ...]] = (
        [] if new_unit.price_source == "market" else [new_legs]
    )
    if held.expiry > ctx.session_date:
        old_unit = desk.unit(held.legs, ctx)
        old_mid = old_unit.price
        if old_unit.price_source != "market":
            model_priced.insert(0, held.legs)
    mult = new_legs[0].multiplier
    new_limit = desk.limit(new_legs, new_unit.price, action=Action.BUY)
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
    if capped:
        if keep:
            outcome = f" (the {held.contracts} held are kept until their roll)"
        elif n <= 0:
            outcome = f" (the {held.contracts} held are closed)"
        else:
            outcome = f" ({held.contracts} held rolled into {n})"
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
    if n <= 0:
        out.extend(
            desk.sell(
                ctx,
                layer=layer,
                intent=OrderIntent.CLOSE,
                contracts=held.contracts,
                reasons=reasons,
                is_capped=capped,
                why=f"{why}; the new expiry does not fit the cost cap",
            )
        )
        return out
    g = math.gcd(held.contracts, n)
    close_k, open_k = held.contracts // g, n // g
    close_legs = _with_qty(held.legs, -close_k)
    open_ratio_legs = new_legs if open_k == 1 else _with_qty(new_legs, open_k)
    net = open_k * new_unit.price - close_k * old_mid
    action = Action.BUY if net >= 0.0 else Action.SELL
    size = "" if n == held.contracts else f"; {held.contracts} units rolled into {n}"
    roll_legs = close_legs + open_ratio_legs
    # quoted at all (live): the roll's market is judged like any combination (per leg);
    # a leg without a quote falls back to the model and the note names it
    market = desk.checked_market(
        ctx, layer=layer, intent=OrderIntent.ROLL, legs=roll_legs, reasons=reasons, out=out
    )
    is_market = market is not None and not model_priced
    if model_priced and desk.market is not None:
        size += f"; priced by the model (no quote): {', '.join(map(leg_text, model_priced))}"
    out.append(
        desk.propose(
            ctx,
            layer=layer,
            intent=OrderIntent.ROLL,
            legs=roll_legs,
            action=action,
            contracts=g,
            mid=abs(net),
            reasons=reasons,
            scenario=desk.scenario_result(new_unit, n, ctx),
            break_evens=new_unit.break_evens,
            is_capped=capped,
            open_legs=new_legs,
            new_leg_mid=new_limit,
            why=(f"{wanted} wanted, " if capped else "") + why + size,
            unit=new_unit,
            price_source="market" if is_market else "model",
            market=market,
        )
    )
    return out


def _with_qty(legs: tuple[OptionLeg, ...], factor: int) -> tuple[OptionLeg, ...]:
    """``legs`` with each ``position_qty`` multiplied by ``factor`` (signed).

    ``dataclasses.replace(leg, position_qty=leg.position_qty * factor)`` of each leg: the
    same legs, built directly (``replace`` inspects the fields on every call; issue 9).
    """
    return tuple(
        [
            OptionLeg(
                right=leg.right,
                strike=leg.strike,
                expiry=leg.expiry,
                position_qty=leg.position_qty * factor,
                multiplier=leg.multiplier,
                trading_class=leg.trading_class,
            )
            for leg in legs
        ]
    )
