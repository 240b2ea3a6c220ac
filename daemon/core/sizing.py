"""Layer sizing: scenario targets, opening a layer and re-sizing it (SPEC §4–§5).

Targets (SPEC §5.6, our reading of SPEC §4 "Size"), :func:`target_contracts`:

* L1: target scenario gain ``l1_cover_frac × L``; VIX-delta target
  ``l1_vega_multiplier × |condor vega|`` in USD per VIX point.
* L2: cumulative targets ``l2_cover_frac × L`` and ``l2_vega_multiplier × |condor vega|``
  minus what the held L1 hedge already provides (never below 0).
* L3: ``l3_notional_add_frac`` × the scenario gain of the held L1 + L2 hedges (of L when
  none is held), as VIX call spreads; no vega target.

Re-sizing (:func:`size_layer`, :func:`rebalance`): every ``rebalance_every_days`` sessions,
or at once on ``big_move``, every active layer is brought to its target: RESIZE for the
difference of the held option, nothing if |target − held| <= ``rebalance_band_frac`` ×
held (the no-trade band: operational, not in the SPEC, which only says "re-sized every 5
trading days"; it implements the SPEC's "no emotional resizing" [003, 004]; activations,
deactivations, rolls and cost-cap sell-downs ignore it).

A held option outside its layer's rules (:func:`rule_breach`) is never added to (issue 10,
"no lottery tickets"): fewer than :func:`~daemon.core.rolls.add_floor_dte` days left, a
premium below ``orders.min_premium_pts``, or a strike that drifted too far above its own
VX future (L1/L3: more than ``ladder.max_otm_pts`` points; L2: more than
``ladder.l2_max_strike_sd`` standard deviations). When the target asks for more (or the
option is worth less than one tick), it is re-struck into the layer's current
instrument as ONE roll sized to the target there (:func:`roll_instead_of_adding`), with a
``roll`` alert that says why. Within the rebalance cadence of its opening, a hedge is not
re-struck (it is only sold down if the target asks for less): no L2 opened on Monday is
rolled on Wednesday.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

from daemon.core.context import DayCtx, LegText, leg_text
from daemon.core.desk import OrderDesk
from daemon.core.expiries import business_days_between
from daemon.core.hedge_pricing import HedgeUnit
from daemon.core.hedge_pricing import size_layer as size_layer_contracts
from daemon.core.model import (
    Alert,
    AlertKind,
    Decision,
    HedgePosition,
    Layer,
    OrderIntent,
    Severity,
    SignalReading,
    new_reading,
)
from daemon.core.rolls import add_floor_dte, roll_one
from daemon.core.scenario import year_fraction

__all__ = [
    "held_gain_and_delta",
    "open_layer",
    "rebalance",
    "roll_instead_of_adding",
    "rule_breach",
    "sessions_since",
    "size_layer",
    "target_contracts",
]


def held_gain_and_delta(
    desk: OrderDesk, layers: Sequence[Layer], ctx: DayCtx
) -> tuple[float, float]:
    """Scenario gain (USD) and VIX delta (USD per VIX point) of the hedges held for ``layers``.

    Hedges expiring on or before the session count for nothing.
    """
    gain = 0.0
    delta = 0.0
    for layer in layers:
        h = desk.book.get(layer)
        if h is None or h.expiry <= ctx.session_date:
            continue
        unit = desk.unit(h.legs, ctx)
        gain += unit.gain_usd * h.contracts
        delta += unit.vix_delta_usd_per_pt * h.contracts
    return gain, delta


def target_contracts(desk: OrderDesk, layer: Layer, unit: HedgeUnit, ctx: DayCtx) -> int:
    """SPEC §5.6 units of ``unit`` for ``layer`` before the cost cap (module docstring)."""
    assert ctx.risk is not None  # noqa: S101 - set before any sizing
    lp = desk.params.ladder
    loss = ctx.risk.scenario_loss_usd
    vega = abs(ctx.risk.condor_vega_usd_per_vix_pt)
    if layer is Layer.L1:
        gain_t, vega_t = lp.l1_cover_frac * loss, lp.l1_vega_multiplier * vega
    elif layer is Layer.L2:
        g1, d1 = held_gain_and_delta(desk, (Layer.L1,), ctx)
        gain_t = max(0.0, lp.l2_cover_frac * loss - g1)
        vega_t = max(0.0, lp.l2_vega_multiplier * vega - d1)
    else:
        g12, _ = held_gain_and_delta(desk, (Layer.L1, Layer.L2), ctx)
        base = g12 if g12 > 0.0 else loss
        gain_t, vega_t = lp.l3_notional_add_frac * base, 0.0
    # An option with no scenario gain / VIX delta left (e.g. out of the money on its
    # expiry day) cannot meet a target: that term is dropped instead of failing.
    if not unit.gain_usd > 0.0:
        gain_t = 0.0
    if not unit.vix_delta_usd_per_pt > 0.0:
        vega_t = 0.0
    if gain_t <= 0.0 and vega_t <= 0.0:
        return 0
    return size_layer_contracts(target_gain_usd=gain_t, vega_target_usd_per_pt=vega_t, unit=unit)


def open_layer(
    desk: OrderDesk,
    ctx: DayCtx,
    layer: Layer,
    reasons: tuple[SignalReading, ...],
    intent: OrderIntent,
) -> list[Decision]:
    """Size the layer's current instrument with the scenario and propose buying it."""
    if ctx.state is None or ctx.risk is None:
        return []
    legs = desk.legs_for(layer, ctx.state)
    unit = desk.unit(legs, ctx)
    target = target_contracts(desk, layer, unit, ctx)
    why = f"target {target} by the +{desk.params.scenario.vix_shock_pts:g} VIX-pt scenario"
    return desk.buy(
        ctx,
        layer=layer,
        intent=intent,
        legs=legs,
        unit=unit,
        contracts=target,
        contracts_after_if_full=target,
        reasons=reasons,
        why=why,
    )


def sessions_since(start: date, day: date) -> int:
    """Exchange sessions after ``start`` up to and including ``day`` (rule-based holidays).

    Args:
        start: e.g. the session a hedge was opened.
        day: the session evaluated.

    Returns:
        The count of business days in ``(start, day]`` (0 when ``day <= start``).
    """
    return business_days_between(start, day)  # not day by day (issue 9)


def rule_breach(
    desk: OrderDesk, ctx: DayCtx, layer: Layer, unit: HedgeUnit
) -> SignalReading | None:
    """Why a held (or candidate) hedge is outside its layer's rules, or None (issue 10).

    Checked in this order: DTE below :func:`~daemon.core.rolls.add_floor_dte`
    (``instrument_dte``); model price below ``orders.min_premium_pts`` (at least one
    tick) (``min_premium``); the long strike too far above the VX future of its own expiry
    (``max_otm``): L1/L3 more than ``ladder.max_otm_pts`` points, L2 more than
    ``ladder.l2_max_strike_sd`` standard deviations of ln F over the remaining life
    (``ln(K/F) / (σ√T)``, σ = ``scenario.vix_option_iv``).

    Args:
        desk: the order desk (parameters).
        ctx: the evaluation.
        layer: the layer whose rules apply.
        unit: the priced unit (held legs, or the current instrument's).

    Returns:
        A reading (``holds=True``) naming the rule, the value and the threshold; None
        when the hedge is inside every rule.
    """
    p = desk.params
    lp = p.ladder
    dte = (unit.expiry - ctx.session_date).days
    floor_dte = add_floor_dte(lp)
    # the detail lines are templates, formatted only when read (a breach of the
    # baseline's hedge, or one that changes nothing, is never read; issue 9)
    if dte < floor_dte:
        return new_reading(
            "instrument_dte",
            float(dte),
            float(floor_dte),
            True,
            "{} hedge {} has {} days left < {} (ladder.roll_dte + the rebalance cadence)",
            (layer.value, LegText(unit.legs), dte, floor_dte),
        )
    floor_px = max(p.orders.min_premium_pts, p.orders.min_tick_below_3)
    if unit.price < floor_px:
        return new_reading(
            "min_premium",
            unit.price,
            floor_px,
            True,
            "{} hedge {} is worth {:.3f} < {:g} per share (orders.min_premium_pts, at least "
            "one tick)",
            (layer.value, LegText(unit.legs), unit.price, floor_px),
        )
    strike = max(leg.strike for leg in unit.legs if leg.position_qty > 0)
    future = unit.future_pts
    if layer is Layer.L2:
        t_years = year_fraction(ctx.session_date, unit.expiry)
        sd = math.log(strike / future) / (p.scenario.vix_option_iv * math.sqrt(t_years))
        if sd > lp.l2_max_strike_sd:
            return new_reading(
                "max_otm",
                sd,
                lp.l2_max_strike_sd,
                True,
                "L2 hedge {} is {:.2f} sd above its future {:.2f} > {:g} (ladder.l2_max_strike_sd)",
                (LegText(unit.legs), sd, future, lp.l2_max_strike_sd),
            )
    elif strike - future > lp.max_otm_pts:
        return new_reading(
            "max_otm",
            strike - future,
            lp.max_otm_pts,
            True,
            "{} hedge {} is {:.2f} pts above its future {:.2f} > {:g} (ladder.max_otm_pts)",
            (layer.value, LegText(unit.legs), strike - future, future, lp.max_otm_pts),
        )
    return None


def roll_instead_of_adding(
    desk: OrderDesk,
    ctx: DayCtx,
    held: HedgePosition,
    reasons: tuple[SignalReading, ...],
    *,
    breach: SignalReading,
    old_target: int,
) -> list[Decision]:
    """Re-strike a hedge outside its layer's rules instead of adding to it (issue 10).

    The new units are sized on the layer's current instrument (``l1_legs`` /
    ``l2_legs`` / ``l3_legs``), not on the held option, and the whole move is ONE ROLL
    (:func:`~daemon.core.rolls.roll_one`), preceded by a ``roll`` alert that names the
    rule. Nothing is proposed when the current instrument is the held one or is itself
    outside the rules, or it needs no unit.

    Args:
        desk: the order desk.
        ctx: the evaluation (market state and condor risk set).
        held: the layer's held hedge, outside its rules.
        reasons: the rebalance readings (cadence or ``big_move``).
        breach: the rule it breaks (:func:`rule_breach`).
        old_target: the target sized on the held option, for the note.

    Returns:
        ``[roll alert, (cost_cap alert), ROLL]``, or ``[]``.
    """
    assert ctx.state is not None  # noqa: S101 - checked by the caller
    layer = held.layer
    new_legs = desk.legs_for(layer, ctx.state)
    if new_legs == held.legs:
        return []
    new_unit = desk.unit(new_legs, ctx)
    if rule_breach(desk, ctx, layer, new_unit) is not None:
        return []
    new_target = target_contracts(desk, layer, new_unit, ctx)
    if new_target <= 0:
        return []
    why = (  # a desk that does not narrate (the baseline's) is never read
        f"{breach.detail}: re-struck into {leg_text(new_legs)}, not added to; target "
        f"{new_target} there ({old_target} in the old option, held {held.contracts})"
        if desk.narrates
        else ""
    )
    done = roll_one(
        desk,
        ctx,
        held,
        new_legs=new_legs,
        reasons=(*reasons, breach),
        why=why,
        target=new_target,
    )
    if not done:
        return []
    alert = Alert(
        decision_id=desk.ids.next(ctx.session_date, "alert", "restrike", layer.value),
        ts=ctx.now,
        kind=AlertKind.ROLL,
        severity=Severity.INFO,
        key=f"restrike:{layer.value}",
        message=f"{layer.value} re-strike (one roll): {why}",
        layer=layer,
        reasons=(*reasons, breach),
    )
    return [alert, *done]


def size_layer(
    desk: OrderDesk,
    ctx: DayCtx,
    layer: Layer,
    reasons: tuple[SignalReading, ...],
    intent: OrderIntent,
    *,
    is_rebalance: bool = False,
) -> list[Decision]:
    """Bring ``layer`` to its scenario target: buy/sell the difference of the held option.

    Nothing held: the layer's current instrument is opened (an OPEN whatever the trigger,
    e.g. a rebalance of an active layer whose activation bought nothing because the cap
    or the lower layers already covered its target).

    A held option inside its layer's rules (:func:`rule_breach`) is added to or sold
    down to the target. One outside them is never added to: when the target (sized on
    it) asks for more, or it is worth less than one tick, it is re-struck into the
    layer's current instrument as one roll sized to the target there
    (:func:`roll_instead_of_adding`), unless it was opened within the rebalance cadence
    (then it is held as is). Selling down in the old option is always fine.

    With ``is_rebalance`` (cadence or ``big_move``), the layer changes only when
    |target − held| > ``ladder.rebalance_band_frac`` × held (the no-trade band), except
    that an option worth less than one tick is re-struck whatever the band (a held
    option merely below ``orders.min_premium_pts`` still protects: it is re-struck only
    when the target asks for more, so an L2 struck near the floor does not churn).
    Activations, re-strikes and rolls ignore the band.
    """
    if ctx.state is None or ctx.risk is None:
        return []
    held = desk.book.get(layer)
    if held is None:
        return open_layer(desk, ctx, layer, reasons, OrderIntent.OPEN)
    unit = desk.unit(held.legs, ctx)
    breach = rule_breach(desk, ctx, layer, unit)
    target = target_contracts(desk, layer, unit, ctx)
    diff = target - held.contracts
    band = desk.params.ladder.rebalance_band_frac
    in_band = diff == 0 or (is_rebalance and abs(diff) <= band * held.contracts)
    why = f"target {target} (held {held.contracts})"
    # Worth less than one tick: it protects nothing, re-strike whatever the band.
    worthless = unit.price < desk.params.orders.min_tick_below_3
    is_young = (
        sessions_since(held.opened_on, ctx.session_date) < desk.params.ladder.rebalance_every_days
    )
    if diff < 0 and not in_band and not (breach is not None and worthless and not is_young):
        return desk.sell(
            ctx,
            layer=layer,
            intent=OrderIntent.RESIZE,
            contracts=-diff,
            reasons=reasons,
            why=why,
        )
    if breach is None:
        return (
            []
            if diff <= 0 or in_band
            else desk.buy(
                ctx,
                layer=layer,
                intent=intent,
                legs=held.legs,
                unit=unit,
                contracts=diff,
                contracts_after_if_full=target,
                reasons=reasons,
                why=why,
            )
        )
    # Outside its rules: never added to; re-struck when the target asks for more, but
    # never within the rebalance cadence of its opening (issue 10).
    if (in_band and not worthless) or is_young:
        return []
    return roll_instead_of_adding(desk, ctx, held, reasons, breach=breach, old_target=target)


def rebalance(
    desk: OrderDesk,
    ctx: DayCtx,
    active: Sequence[Layer],
    skip: set[Layer],
    reason: SignalReading,
) -> list[Decision]:
    """Re-size every active layer not in ``skip`` to its current target (SPEC §4).

    Args:
        desk: the order desk.
        ctx: the evaluation (no-op without market state or condor risk).
        active: the active layers, L1..L3.
        skip: layers that changed state in this evaluation.
        reason: the cadence or ``big_move`` reading behind it.

    Returns:
        The re-sizing decisions, layer order.
    """
    out: list[Decision] = []
    for layer in active:
        # One order per layer per session (issue 10): a layer rolled at this close, or
        # re-sized intraday on a big move, waits for the next rebalance.
        if layer not in skip and not desk.has_traded(ctx, layer):
            out.extend(
                size_layer(desk, ctx, layer, (reason,), OrderIntent.RESIZE, is_rebalance=True)
            )
    return out
