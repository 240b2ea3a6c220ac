"""Positions read over the wire: the short SPX iron condor, the VIX hedge legs, IWM."""

from __future__ import annotations

from datetime import date

import pytest

from adapters.ib.connection import IbConnection
from adapters.ib.paper_orders import IbOrderSink
from adapters.ib.positions import HeldContract, account_positions, recognise_condor
from daemon.core.model import IronCondor, Layer, Right, Symbol
from tests.adapters.ib.conftest import AS_OF, fast_config, running
from tests.adapters.ib.orders_helpers import vix_call_order
from tests.fakes.tws import FakeTws

SPX_MAR20 = date(2020, 3, 20)


def seed_condor(tws: FakeTws, contracts: int = 2) -> None:
    """Short 3100/3000 put spread + short 3450/3550 call spread, 14.00 credit per share."""
    for strike, right, qty, cost in (
        (3000.0, "P", contracts, 900.0),
        (3100.0, "P", -contracts, 1500.0),
        (3450.0, "C", -contracts, 1200.0),
        (3550.0, "C", contracts, 400.0),
    ):
        tws.add_position(tws.option("SPX", "SPXW", SPX_MAR20, strike, right), qty, cost)


@pytest.mark.asyncio(loop_scope="session")
async def test_condor_hedges_and_satellite_are_recognised(tws: FakeTws) -> None:
    seed_condor(tws)
    tws.add_position(tws.instruments[9579970], 600, 161.5)  # IWM shares
    # a VIX call opened by a previous alvhd run (its order is in the completed orders)
    conn0 = IbConnection(fast_config(tws.port, client_id=5))
    sink0 = IbOrderSink(conn0)
    order = vix_call_order(strike=20.0, contracts=4, limit_price=2.1, layer=Layer.L2)
    async with running(conn0):
        await sink0.submit(order)
    # a hand-placed VIX call: held, but not a ladder layer
    tws.add_position(tws.option("VIX", "VIX", date(2020, 4, 15), 30.0, "C"), 1, 55.0)

    conn = IbConnection(fast_config(tws.port))
    sink = IbOrderSink(conn)
    async with running(conn):
        held = account_positions(
            conn.ib.positions(),
            sink.order_refs_by_con_id(),
            account=conn.account,
            opened_on=AS_OF,
            iwm_price=162.0,
        )
    assert held.condor == IronCondor(
        short_put_strike=3100.0,
        long_put_strike=3000.0,
        short_call_strike=3450.0,
        long_call_strike=3550.0,
        expiry=SPX_MAR20,
        contracts=2,
        net_credit=14.0,
        multiplier=100,
        trading_class="SPXW",
    )
    assert held.condor.break_even_low == 3086.0
    assert held.condor.credit_usd == 2800.0
    (hedge,) = held.hedges
    assert (hedge.layer, hedge.contracts, hedge.order_ref) == (Layer.L2, 4, order.order_ref)
    # the marketable 2.10 limit filled at the fake's ask (an exchange gives the better price)
    quote = tws.option_market(tws.option("VIX", "VIX", order.legs[0].expiry, 20.0, "C"))
    assert quote is not None
    assert quote.ask < 2.1
    assert hedge.premium_paid_usd == pytest.approx(4 * quote.ask * 100)
    assert [(h.strike, h.position_qty) for h in held.unmapped_hedge_legs] == [(30.0, 1)]
    assert held.satellite is not None
    assert held.satellite.symbol is Symbol.IWM
    assert held.satellite.notional_usd == 97_200.0


def leg(
    strike: float, right: Right, qty: float, cost: float, expiry: date = SPX_MAR20
) -> HeldContract:
    return HeldContract(
        con_id=int(strike) * (1 if right is Right.CALL else -1),
        symbol="SPX",
        sec_type="OPT",
        trading_class="SPXW",
        right=right,
        strike=strike,
        expiry=expiry,
        multiplier=100,
        position_qty=qty,
        avg_cost_usd=cost,
    )


def test_shapes_that_are_not_a_short_condor_are_not_recognised() -> None:
    full = [
        leg(3000, Right.PUT, 2, 900),
        leg(3100, Right.PUT, -2, 1500),
        leg(3450, Right.CALL, -2, 1200),
        leg(3550, Right.CALL, 2, 400),
    ]
    assert recognise_condor(full) is not None
    assert recognise_condor(full[:3]) is None  # a missing wing
    uneven = [*full[:3], leg(3550, Right.CALL, 1, 400)]
    assert recognise_condor(uneven) is None  # unequal sizes
    crossed = [*full[:2], leg(3050, Right.CALL, -2, 1200), full[3]]
    assert recognise_condor(crossed) is None  # short call below short put
    debit = [leg(3000, Right.PUT, 2, 1500), leg(3100, Right.PUT, -2, 900), *full[2:]]
    assert recognise_condor(debit) is not None  # still a net credit: 1200+900-1500-400
    long_condor = [
        leg(3000, Right.PUT, -2, 900),
        leg(3100, Right.PUT, 2, 1500),
        leg(3450, Right.CALL, 2, 1200),
        leg(3550, Right.CALL, -2, 400),
    ]
    assert recognise_condor(long_condor) is None


def test_the_nearest_expiry_condor_wins() -> None:
    later = date(2020, 4, 17)
    near = [
        leg(3000, Right.PUT, 1, 900),
        leg(3100, Right.PUT, -1, 1500),
        leg(3450, Right.CALL, -1, 1200),
        leg(3550, Right.CALL, 1, 400),
    ]
    far = [
        leg(s, r, q, c, later)
        for s, r, q, c in (
            (2900, Right.PUT, 3, 800),
            (3000, Right.PUT, -3, 1400),
            (3500, Right.CALL, -3, 1000),
            (3600, Right.CALL, 3, 300),
        )
    ]
    condor = recognise_condor([*far, *near])
    assert condor is not None
    assert (condor.expiry, condor.contracts) == (SPX_MAR20, 1)
