"""Building proposed orders for the IB order tests."""

from __future__ import annotations

from datetime import UTC, date, datetime

from daemon.core.model import Action, Layer, OptionLeg, OrderIntent, ProposedOrder, Right

VIX_MAR20 = date(2020, 3, 18)


def vix_call_order(
    *,
    strike: float = 22.0,
    contracts: int = 3,
    limit_price: float = 1.35,
    layer: Layer = Layer.L1,
    decision_id: str = "d3c1510n1d000001",
) -> ProposedOrder:
    """An L1-style proposal: buy ``contracts`` VIX 2020-03-18 calls at ``limit_price``."""
    leg = OptionLeg(
        right=Right.CALL,
        strike=strike,
        expiry=VIX_MAR20,
        position_qty=1,
        multiplier=100,
        trading_class="VIX",
    )
    ref = f"alvh:{layer}:open:{VIX_MAR20:%Y%m%d}:{strike:g}:{decision_id}"
    return ProposedOrder(
        decision_id=decision_id,
        ts=datetime(2020, 2, 24, 21, 0, tzinfo=UTC),
        session_date=date(2020, 2, 24),
        layer=layer,
        intent=OrderIntent.OPEN,
        legs=(leg,),
        action=Action.BUY,
        contracts=contracts,
        limit_price=limit_price,
        order_ref=ref,
        tif="DAY",
        cost_usd=limit_price * 100 * contracts,
        is_capped=False,
        reasons=(),
        scenario=None,
        break_evens=(strike + limit_price,),
        note=f"{layer} open: buy {contracts} VIX {VIX_MAR20} {strike:g}C @ {limit_price}",
    )
