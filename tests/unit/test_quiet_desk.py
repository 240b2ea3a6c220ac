"""A desk that does not narrate (the always-on L1 baseline's) books exactly the same.

Its proposals carry no note, scenario figures or inputs (issue 9: they were most of the
baseline's cost per close and nobody reads them), but everything booked — the held
hedges, the P&L counters, the decision ids, order refs, limits, contracts, legs and
actions — must be the same as a narrating desk's, for opens, capped buys, rolls,
re-strikes and cap sell-downs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date

import pytest

from daemon.core import rolls, sizing
from daemon.core.accounting import AlwaysOnL1
from daemon.core.context import DayCtx, DecisionIds
from daemon.core.desk import OrderDesk
from daemon.core.hedge_book import HedgeBook
from daemon.core.model import Action, Decision, Layer, OrderIntent, ProposedOrder
from daemon.core.params import EngineParams
from tests.unit.engine_parts import VX_APR, VX_MAR, ctx, hedge, state, vix_call

Scene = Callable[[OrderDesk, DayCtx], list[Decision]]


def _open_l1(d: OrderDesk, c: DayCtx) -> list[Decision]:
    return sizing.size_layer(d, c, Layer.L1, (), OrderIntent.OPEN)


def _capped_open(d: OrderDesk, c: DayCtx) -> list[Decision]:
    d.book.set_hedges([hedge(Layer.L2, (vix_call(45.0, VX_APR),), 10, 0.97 * d.cost_cap_usd)])
    return sizing.size_layer(d, c, Layer.L1, (), OrderIntent.OPEN)


def _roll_dte(d: OrderDesk, c: DayCtx) -> list[Decision]:
    d.book.set_hedges([hedge(Layer.L1, (vix_call(25.0, VX_MAR),), 40, 40 * 150.0)])
    return rolls.rolls(d, c, skip=set())


def _restrike(d: OrderDesk, c: DayCtx) -> list[Decision]:
    # far above its future: outside L1's rules, re-struck (one roll) when the target asks more
    old = replace(hedge(Layer.L1, (vix_call(60.0, VX_APR),), 1, 100.0), opened_on=date(2020, 1, 2))
    d.book.set_hedges([old])
    return sizing.size_layer(d, c, Layer.L1, (), OrderIntent.RESIZE, is_rebalance=True)


def _cap_sell_down(d: OrderDesk, c: DayCtx) -> list[Decision]:
    cap = d.cost_cap_usd
    l1 = (vix_call(31.0, VX_APR),)
    l3 = (vix_call(31.0, VX_APR), vix_call(36.0, VX_APR, -1))
    d.book.set_hedges([hedge(Layer.L1, l1, 100, 0.9 * cap), hedge(Layer.L3, l3, 50, 0.3 * cap)])
    return d.enforce_cap(c)


SCENES: dict[str, tuple[Scene, date, OrderIntent]] = {
    "open": (_open_l1, date(2020, 3, 2), OrderIntent.OPEN),
    "capped_open": (_capped_open, date(2020, 3, 2), OrderIntent.OPEN),
    "roll_dte": (_roll_dte, date(2020, 3, 12), OrderIntent.ROLL),
    "restrike": (_restrike, date(2020, 3, 2), OrderIntent.ROLL),
    "cap_sell_down": (_cap_sell_down, date(2020, 3, 2), OrderIntent.RESIZE),
}


def _desk(*, narrates: bool) -> OrderDesk:
    return OrderDesk(
        EngineParams(), HedgeBook(), DecisionIds(), assume_fills=True, narrates=narrates
    )


@pytest.mark.parametrize("name", sorted(SCENES))
def test_a_quiet_desk_books_what_a_narrating_one_books(name: str) -> None:
    scene, day, intent = SCENES[name]
    loud, quiet = _desk(narrates=True), _desk(narrates=False)
    said = scene(loud, ctx(loud, state(day)))
    done = scene(quiet, ctx(quiet, state(day)))
    orders_loud = [x for x in said if isinstance(x, ProposedOrder)]
    orders_quiet = [x for x in done if isinstance(x, ProposedOrder)]
    assert [o.intent for o in orders_loud] == [intent]  # the scene reaches its case
    assert [type(x) for x in done] == [type(x) for x in said]
    assert [x.decision_id for x in done] == [x.decision_id for x in said]
    booked = [
        (o.order_ref, o.limit_price, o.contracts, o.legs, o.action, o.cost_usd, o.is_capped)
        for o in orders_loud
    ]
    assert [
        (o.order_ref, o.limit_price, o.contracts, o.legs, o.action, o.cost_usd, o.is_capped)
        for o in orders_quiet
    ] == booked
    assert quiet.book.hedges == loud.book.hedges
    assert quiet.book.pnl_state == loud.book.pnl_state
    assert quiet.book.premium_paid_to_date_usd == loud.book.premium_paid_to_date_usd
    # what the quiet desk leaves out, and the narrating one still says
    assert all(o.note and o.inputs is not None for o in orders_loud if o.action is Action.BUY)
    assert all(o.note == "" and o.scenario is None and o.inputs is None for o in orders_quiet)


def test_the_always_on_baseline_runs_a_quiet_desk() -> None:
    base = AlwaysOnL1(EngineParams())
    assert base._desk.narrates is False
    assert base._desk.book is base.book
