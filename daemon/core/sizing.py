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
deactivations, rolls and cost-cap sell-downs ignore it). A held option whose DTE is below
its layer's instrument rule is never added to: when the target asks for more it is rolled
into the layer's current instrument (:func:`roll_instead_of_adding`). A held option worth
less than one tick is re-struck (sold, and the current instrument bought).
"""

from __future__ import annotations

from collections.abc import Sequence

from daemon.core.context import DayCtx, leg_text
from daemon.core.desk import OrderDesk
from daemon.core.model import (
    Decision,
    HedgePosition,
    Layer,
    OrderIntent,
    SignalReading,
)
from daemon.core.rolls import min_dte, roll_one
from daemon.core.scenario import HedgeUnit
from daemon.core.scenario import size_layer as size_layer_contracts

__all__ = [
    "held_gain_and_delta",
    "open_layer",
    "rebalance",
    "roll_instead_of_adding",
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


def roll_instead_of_adding(
    desk: OrderDesk,
    ctx: DayCtx,
    held: HedgePosition,
    reasons: tuple[SignalReading, ...],
    old_target: int,
) -> list[Decision]:
    """Roll a hedge below its layer's minimum DTE instead of adding to it (SPEC §4).

    The new units are sized on the layer's current instrument (``l1_legs`` /
    ``l2_legs`` / ``l3_legs``), not on the near-expiry option; the ROLL carries an
    ``instrument_dte`` reading after the rebalance reason. Nothing is proposed when no
    later expiry is quoted or the new instrument needs no unit.

    Args:
        desk: the order desk.
        ctx: the evaluation (market state and condor risk set).
        held: the layer's held hedge, with DTE below :func:`~daemon.core.rolls.min_dte`.
        reasons: the rebalance readings (cadence or ``big_move``).
        old_target: the target sized on the held option (> held), for the note.

    Returns:
        The decisions of :func:`~daemon.core.rolls.roll_one`, or ``[]``.
    """
    assert ctx.state is not None  # noqa: S101 - checked by the caller
    layer = held.layer
    new_legs = desk.legs_for(layer, ctx.state)
    if new_legs[0].expiry <= held.expiry:
        return []  # no later expiry quoted: never add to the out-of-rule option
    new_target = target_contracts(desk, layer, desk.unit(new_legs, ctx), ctx)
    dte = (held.expiry - ctx.session_date).days
    floor_dte = min_dte(desk.params.ladder, layer)
    reading = SignalReading(
        id="instrument_dte",
        value=float(dte),
        threshold=float(floor_dte),
        holds=True,
        detail=f"{layer.value} hedge {leg_text(held.legs)} has {dte} days left < "
        f"{floor_dte} (the layer's instrument rule): rolled, not added to",
    )
    return roll_one(
        desk,
        ctx,
        held,
        new_legs=new_legs,
        reasons=(*reasons, reading),
        why=f"{reading.detail}; target {new_target} at the new expiry "
        f"({old_target} in the old option, held {held.contracts})",
        target=new_target,
    )


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

    Nothing held, or the held option worth less than one tick (far out of the money):
    the layer is (re-)struck into its current instrument (sell the old, buy the new).
    With nothing held the buy is an OPEN whatever the trigger (e.g. a rebalance of an
    active layer whose activation bought nothing because the cap or the lower layers
    already covered its target).

    A held option whose DTE is below the layer's instrument rule
    (:func:`~daemon.core.rolls.min_dte`) is never added to: sizing a near-expiry, far
    out-of-the-money call by its scenario gain and delta explodes the count for options
    about to be rolled anyway. When the target asks for more, the hedge is rolled instead
    into the layer's current instrument, sized to the target on that instrument
    (:func:`roll_instead_of_adding`). Selling down in the old option is fine.

    With ``is_rebalance`` (cadence or ``big_move``), the layer changes only when
    |target − held| > ``ladder.rebalance_band_frac`` × held (the no-trade band).
    Activations, re-strikes and rolls ignore the band.
    """
    if ctx.state is None or ctx.risk is None:
        return []
    out: list[Decision] = []
    held = desk.book.get(layer)
    unit = None if held is None else desk.unit(held.legs, ctx)
    if held is None or unit is None or unit.price < desk.params.orders.min_tick_below_3:
        if held is not None:
            out.extend(
                desk.sell(
                    ctx,
                    layer=layer,
                    intent=OrderIntent.RESIZE,
                    contracts=held.contracts,
                    reasons=reasons,
                    why="held option worth less than one tick: re-strike",
                )
            )
        # Nothing held: whatever the trigger, the order opens the layer's position.
        opening = intent if held is not None else OrderIntent.OPEN
        out.extend(open_layer(desk, ctx, layer, reasons, opening))
        return out
    target = target_contracts(desk, layer, unit, ctx)
    diff = target - held.contracts
    band = desk.params.ladder.rebalance_band_frac
    if diff == 0 or (is_rebalance and abs(diff) <= band * held.contracts):
        return out
    why = f"target {target} (held {held.contracts})"
    if diff > 0:
        if (held.expiry - ctx.session_date).days >= min_dte(desk.params.ladder, layer):
            return desk.buy(
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
        return roll_instead_of_adding(desk, ctx, held, reasons, target)
    return desk.sell(
        ctx,
        layer=layer,
        intent=OrderIntent.RESIZE,
        contracts=-diff,
        reasons=reasons,
        why=why,
    )


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
        if layer not in skip:
            out.extend(
                size_layer(desk, ctx, layer, (reason,), OrderIntent.RESIZE, is_rebalance=True)
            )
    return out
