"""The hedge book: what the sleeve holds and paid after buys, sells, rolls and fills."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from daemon.core.hedge_book import HedgeBook, PendingOrder
from daemon.core.model import Action, Fill, Layer, OptionLeg, OrderIntent
from tests.unit.engine_parts import DAY, VX_APR, VX_MAR, vix_call

MAR_22 = (vix_call(22.0, VX_MAR),)
APR_24 = (vix_call(24.0, VX_APR),)
TS = datetime(2020, 3, 2, 21, tzinfo=UTC)


def order(
    intent: OrderIntent,
    action: Action,
    contracts: int,
    limit: float,
    *,
    legs: tuple[OptionLeg, ...] = MAR_22,
    open_legs: tuple[OptionLeg, ...] | None = None,
    new_leg_price: float | None = None,
    layer: Layer = Layer.L1,
    day: date = DAY,
) -> PendingOrder:
    return PendingOrder(
        layer=layer,
        intent=intent,
        legs=legs,
        open_legs=open_legs or legs,
        action=action,
        contracts=contracts,
        limit_price=limit,
        new_leg_price=limit if new_leg_price is None else new_leg_price,
        session_date=day,
    )


def test_buy_then_partial_sell_keeps_the_pro_rata_premium() -> None:
    book = HedgeBook()
    book.apply("r1", order(OrderIntent.OPEN, Action.BUY, 10, 2.00), 10, 2.00)
    book.apply("r2", order(OrderIntent.RESIZE, Action.BUY, 10, 3.00), 10, 3.00)
    h = book.get(Layer.L1)
    assert h is not None
    assert (h.contracts, h.premium_paid_usd, h.order_ref) == (20, 5000.0, "r1")
    book.apply("r3", order(OrderIntent.RESIZE, Action.SELL, 5, 4.00), 5, 4.00)
    h = book.get(Layer.L1)
    assert h is not None
    assert h.contracts == 15
    assert h.premium_paid_usd == pytest.approx(3750.0)  # 15/20 of 5000
    assert book.open_premium_usd == pytest.approx(3750.0)
    assert book.premium_paid_to_date_usd == pytest.approx(5000.0)  # sells do not refund
    book.apply("r4", order(OrderIntent.CLOSE, Action.SELL, 15, 4.00), 15, 4.00)
    assert book.hedges == ()
    assert book.open_premium_usd == 0.0


def test_a_roll_books_the_new_option_at_its_own_price() -> None:
    book = HedgeBook()
    book.apply("r1", order(OrderIntent.OPEN, Action.BUY, 10, 2.00), 10, 2.00)
    close_legs = (vix_call(22.0, VX_MAR, -1),)
    roll = order(
        OrderIntent.ROLL,
        Action.BUY,
        10,
        0.50,
        legs=close_legs + APR_24,
        open_legs=APR_24,
        new_leg_price=2.50,
    )
    # filled 0.05 better than the limit: the new option's booked price moves with it
    book.apply("r2", roll, 10, 0.45)
    h = book.get(Layer.L1)
    assert h is not None
    assert h.legs == APR_24
    assert h.premium_paid_usd == pytest.approx(2.45 * 100 * 10)
    assert book.premium_paid_to_date_usd == pytest.approx(2000.0 + 2450.0)


def test_fills_book_only_pending_orders_and_partial_fills_add_up() -> None:
    book = HedgeBook()
    book.add_pending("r1", order(OrderIntent.OPEN, Action.BUY, 10, 2.00))
    assert book.pending_buys_usd() == pytest.approx(2000.0)
    book.on_fill(Fill(order_ref="unknown", contracts=3, price=1.0, ts=TS))
    assert book.hedges == ()
    book.on_fill(Fill(order_ref="r1", contracts=4, price=1.90, ts=TS))
    book.on_fill(Fill(order_ref="r1", contracts=6, price=2.00, ts=TS))
    h = book.get(Layer.L1)
    assert h is not None
    assert h.contracts == 10
    assert h.premium_paid_usd == pytest.approx(4 * 190.0 + 6 * 200.0)
    assert book.pending == {}
    assert book.pending_buys_usd() == 0.0


def test_unfilled_proposals_expire_at_the_next_close_and_rolls_do_not_use_the_cap() -> None:
    book = HedgeBook()
    book.add_pending("old", order(OrderIntent.OPEN, Action.BUY, 10, 2.00))
    book.add_pending(
        "roll",
        order(OrderIntent.ROLL, Action.BUY, 5, 0.5, legs=MAR_22 + APR_24, open_legs=APR_24),
    )
    assert book.pending_buys_usd() == pytest.approx(2000.0)  # the roll's net is not counted
    book.expire_pending(date(2020, 3, 3))
    assert book.pending == {}
