"""An unfilled DAY order is re-proposed by the next session's rules; a filled one is not.

Live (``assume_fills=False``) a proposal only changes the sleeve when IB reports a fill.
A DAY order the exchange cancels at the close (reported ``expired`` with an ``order``
alert and journaled, ``tests/adapters/ib/test_market.py``) leaves the layer without its
hedge: at the next close the pending proposal has expired (``HedgeBook.expire_pending``)
and the layer's rules propose again, once. Driven on the real 2020-02-24 … 02-26 closes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from adapters.replay import ReplaySource
from daemon.app import trading_sessions, warm_up
from daemon.core.engine import Engine
from daemon.core.model import Fill, Layer, OrderIntent, ProposedOrder, Quote, SessionClose
from tests.adapters.ib.test_same_decisions import PARAMS

START = date(2020, 2, 24)
END = date(2020, 2, 25)


async def l1_orders(market_dir: Path, *, fill_first: bool) -> list[ProposedOrder]:
    source = ReplaySource(market_dir, start=START, end=END, warmup_days=250)
    engine = Engine(PARAMS, sessions=trading_sessions(), assume_fills=False)
    await warm_up(engine, source, 250)
    out: list[ProposedOrder] = []
    async for event in source.events():
        if isinstance(event, Quote):
            engine.on_quote(event)
        elif isinstance(event, SessionClose):
            for d in engine.on_session_close(event.session_date, event.ts):
                if isinstance(d, ProposedOrder) and d.layer is Layer.L1:
                    out.append(d)
                    if fill_first and len(out) == 1:
                        engine.on_fill(
                            Fill(
                                order_ref=d.order_ref,
                                contracts=d.contracts,
                                price=d.limit_price,
                                ts=datetime(2020, 2, 24, 21, 5, tzinfo=UTC),
                            )
                        )
    return out


async def test_an_unfilled_open_is_proposed_again_at_the_next_close(market_dir: Path) -> None:
    first, again = await l1_orders(market_dir, fill_first=False)
    assert (first.session_date, again.session_date) == (START, END)
    assert (first.intent, again.intent) == (OrderIntent.OPEN, OrderIntent.OPEN)
    assert again.order_ref != first.order_ref  # a new order, not the old one re-sent
    assert again.contracts > 0


async def test_a_filled_open_is_not_opened_again(market_dir: Path) -> None:
    # filled: the next close sizes the held hedge (SPX fell 3%: a re-size), never a
    # second open of what is already held
    first, *later = await l1_orders(market_dir, fill_first=True)
    assert first.intent is OrderIntent.OPEN
    assert [o.intent for o in later] == [OrderIntent.RESIZE]
    assert later[0].legs == first.legs
