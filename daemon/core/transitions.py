"""The decisions of the ladder's transitions (SPEC §4, step 4 of the engine's cycle).

Every transition of :func:`daemon.core.ladder.step` gives a ``LayerChange`` and its
``Alert`` (the reasons, and the exit rule on activation); then every deactivated layer's
hedge is sold (CLOSE: this frees room under the cost cap first), then every activated
layer is opened, sized by the scenario (:func:`daemon.core.sizing.size_layer`).
"""

from __future__ import annotations

from collections.abc import Sequence

from daemon.core import sizing
from daemon.core.context import DayCtx, DecisionIds
from daemon.core.desk import OrderDesk
from daemon.core.ladder import Transition
from daemon.core.model import (
    Alert,
    AlertKind,
    Decision,
    Layer,
    LayerChange,
    OrderIntent,
    Severity,
)

__all__ = ["layer_decisions", "transition_decisions"]


def transition_decisions(
    desk: OrderDesk, ctx: DayCtx, transitions: Sequence[Transition]
) -> tuple[list[Decision], set[Layer]]:
    """Decisions for the ladder's transitions: deactivations first (free the cap).

    Args:
        desk: the order desk (its hedge book and decision ids).
        ctx: the evaluation.
        transitions: the ladder's transitions of this evaluation, layer order.

    Returns:
        The decisions (layer changes with their alerts, then the CLOSE orders, then the
        OPEN orders) and the set of layers that changed state.
    """
    out: list[Decision] = []
    changed: set[Layer] = set()
    for tr in transitions:
        out.extend(layer_decisions(desk.ids, ctx, tr))
        changed.add(tr.layer)
    for tr in transitions:
        if not tr.is_active:
            held = desk.book.get(tr.layer)
            if held is not None:
                out.extend(
                    desk.sell(
                        ctx,
                        layer=tr.layer,
                        intent=OrderIntent.CLOSE,
                        contracts=held.contracts,
                        reasons=tr.reasons,
                        why=tr.message,
                    )
                )
    for tr in transitions:
        if tr.is_active:
            # Normally nothing is held for a layer that was off; a broker position
            # (set_positions) is re-sized instead of replaced.
            out.extend(sizing.size_layer(desk, ctx, tr.layer, tr.reasons, OrderIntent.OPEN))
    return out, changed


def layer_decisions(ids: DecisionIds, ctx: DayCtx, tr: Transition) -> list[Decision]:
    """LayerChange + Alert for one transition (SPEC §4 exit protocol).

    Args:
        ids: the decision-id sequence.
        ctx: the evaluation (date and time stamps).
        tr: the transition.

    Returns:
        ``[LayerChange, Alert]``: the alert is a warning with the exit rule on
        activation, info on deactivation.
    """
    kind = "on" if tr.is_active else "off"
    change = LayerChange(
        decision_id=ids.next(ctx.session_date, "layer", tr.layer.value, kind),
        ts=ctx.now,
        session_date=ctx.session_date,
        layer=tr.layer,
        is_active=tr.is_active,
        reasons=tr.reasons,
        exit_rule=tr.exit_rule,
    )
    alert = Alert(
        decision_id=ids.next(ctx.session_date, "alert", "layer", tr.layer.value, kind),
        ts=ctx.now,
        kind=AlertKind.LAYER_ACTIVATED if tr.is_active else AlertKind.LAYER_DEACTIVATED,
        severity=Severity.WARNING if tr.is_active else Severity.INFO,
        key=f"layer:{tr.layer.value}",
        message=tr.message + (f". Exit rule: {tr.exit_rule}" if tr.is_active else ""),
        layer=tr.layer,
        reasons=tr.reasons,
        exit_rule=tr.exit_rule,
    )
    return [change, alert]
