"""The sleeve's marks from the day's hedge units: the same floats, one pricing (issue 9).

At a close the held hedges are marked (``sleeve_pnl``) and their scenario cover is priced
for the day summary (``held_gain_and_delta``). Given ``unit_of`` (the desk's model-priced
unit, cached in the evaluation), the mark is the unit's premium × units instead of the legs
priced one by one: these tests hold that the two are the same float, that a hedge on or
after its expiry still settles at intrinsic, and that the summary then prices nothing again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from daemon.core.accounting import sleeve_pnl
from daemon.core.context import LAYERS, DayCtx
from daemon.core.desk import OrderDesk
from daemon.core.hedge_pricing import HedgeUnit
from daemon.core.model import Layer, OptionLeg
from daemon.core.sizing import held_gain_and_delta
from tests.unit.engine_parts import VX_APR, VX_MAR, ctx, desk, hedge, state, vix_call


def _held_desk(day: date) -> tuple[OrderDesk, DayCtx]:
    """A desk holding a call (L1), a call spread (L2) and a call on another expiry (L3)."""
    d = desk()
    d.book.set_hedges(
        [
            hedge(Layer.L1, (vix_call(35.0, VX_APR),), 40, 9_000.0),
            hedge(Layer.L2, (vix_call(30.0, VX_MAR), vix_call(40.0, VX_MAR, -1)), 25, 7_500.0),
            hedge(Layer.L3, (vix_call(50.0, VX_APR),), 10, 900.0),
        ]
    )
    c = ctx(d, state(day, vix=31.7))
    return d, c


def _units_of(d: OrderDesk, c: DayCtx) -> Callable[[tuple[OptionLeg, ...]], HedgeUnit]:
    """The desk's model-priced unit at ``c`` (what the engine passes)."""
    return lambda legs: d.unit(legs, c)


def test_marks_from_the_units_are_the_leg_marks_bit_for_bit() -> None:
    for day in (date(2020, 3, 2), date(2020, 3, 9), date(2020, 3, 17)):
        d, c = _held_desk(day)
        assert c.state is not None
        by_legs = sleeve_pnl(d.book, c.state, d.params.scenario)
        by_units = sleeve_pnl(d.book, c.state, d.params.scenario, _units_of(d, c))
        assert set(by_units) == set(LAYERS)
        assert by_units == by_legs  # LayerPnl equality: every float identical
        assert all(p.open_mark_usd > 0.0 for p in by_units.values())


def test_a_hedge_on_its_expiry_day_is_still_marked_at_intrinsic() -> None:
    d, c = _held_desk(VX_MAR)  # L2's spread expires today: no unit for it
    assert c.state is not None
    d.book.record_settlement(VX_MAR, 36.0)
    asked: list[object] = []

    def unit_of(legs: tuple[OptionLeg, ...]) -> HedgeUnit:
        asked.append(legs)
        return d.unit(legs, c)

    by_units = sleeve_pnl(d.book, c.state, d.params.scenario, unit_of)
    assert by_units == sleeve_pnl(d.book, c.state, d.params.scenario)
    assert by_units[Layer.L2].open_mark_usd == 25 * 100 * (36.0 - 30.0)  # settled spread
    held = d.book.get(Layer.L2)
    assert held is not None
    assert held.legs not in asked
    assert len(asked) == 2  # L1 and L3 only


def test_the_day_summary_reuses_the_units_the_marks_priced() -> None:
    d, c = _held_desk(date(2020, 3, 9))
    assert c.state is not None
    sleeve_pnl(d.book, c.state, d.params.scenario, _units_of(d, c))
    priced = dict(c.units)
    assert len(priced) == 3
    held_gain_and_delta(d, LAYERS, c)
    assert c.units == priced  # a lookup: no unit priced again


def test_marks_with_only_some_units_priced_are_the_same_floats_and_price_nothing() -> None:
    """The baseline's lookup (``OrderDesk.priced_unit``): a priced unit gives the mark, an
    unpriced hedge is marked by its legs, and nothing new is priced (issue 9)."""
    d, c = _held_desk(date(2020, 3, 9))
    assert c.state is not None
    l1 = d.book.get(Layer.L1)
    assert l1 is not None
    assert d.priced_unit(l1.legs, c) is None  # nothing priced yet
    unit = d.unit(l1.legs, c)  # L1 priced (as sizing would), L2 and L3 not
    assert d.priced_unit(l1.legs, c) is unit
    priced = dict(c.units)
    by_lookup = sleeve_pnl(d.book, c.state, d.params.scenario, lambda g: d.priced_unit(g, c))
    assert by_lookup == sleeve_pnl(d.book, c.state, d.params.scenario)  # every float
    assert all(p.open_mark_usd > 0.0 for p in by_lookup.values())
    assert c.units == priced  # the lookup priced nothing
    # a unit priced at another close (another state) is not this close's
    other = ctx(d, state(date(2020, 3, 10), vix=31.7))
    other.units.update(c.units)
    assert d.priced_unit(l1.legs, other) is None
