"""Builders of realistic decisions for tests (one L1 activation day of early 2020)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from daemon.core.model import (
    Action,
    Alert,
    AlertKind,
    Layer,
    LayerChange,
    OptionLeg,
    OrderIntent,
    ProposedOrder,
    Right,
    ScenarioResult,
    Severity,
    SignalReading,
)

TS = datetime(2020, 2, 24, 21, 0, tzinfo=UTC)
MACD = SignalReading(
    id="ratio_macd_negative", value=-0.0012, threshold=0.0, holds=True, detail="MACD < 0"
)


def order(decision_id: str = "o1", *, ts: datetime = TS) -> ProposedOrder:
    return ProposedOrder(
        decision_id=decision_id,
        ts=ts,
        session_date=date(2020, 2, 24),
        layer=Layer.L1,
        intent=OrderIntent.OPEN,
        legs=(
            OptionLeg(
                right=Right.CALL,
                strike=22.0,
                expiry=date(2020, 3, 18),
                position_qty=1,
                multiplier=100,
                trading_class="VIX",
            ),
        ),
        action=Action.BUY,
        contracts=12,
        limit_price=1.35,
        order_ref=f"alvh:L1:open:20200318:22:{decision_id}",
        tif="DAY",
        cost_usd=1620.0,
        is_capped=False,
        reasons=(MACD,),
        scenario=ScenarioResult(
            vix_shock_pts=6.0,
            spx_move_pct=-4.2,
            iwm_move_pct=-5.1,
            vx_future_move_pts=4.2,
            scenario_loss_usd=25_000.0,
            gain_per_contract_usd=1100.0,
            cover_frac=0.53,
            hedge_vix_delta_usd_per_pt=2600.0,
            condor_vega_usd_per_pt=1900.0,
        ),
        break_evens=(23.35,),
        note="L1 open: buy 12 VIX 2020-03-18 22C @ 1.35",
    )


def alert(decision_id: str = "a1", *, key: str = "layer:L1", ts: datetime = TS) -> Alert:
    return Alert(
        decision_id=decision_id,
        ts=ts,
        kind=AlertKind.LAYER_ACTIVATED,
        severity=Severity.WARNING,
        key=key,
        message="L1 on",
        layer=Layer.L1,
        reasons=(MACD,),
        exit_rule="MACD line >= 0 for 3 closes",
    )


def change(
    decision_id: str = "c1", *, layer: Layer = Layer.L1, is_active: bool = True, ts: datetime = TS
) -> LayerChange:
    return LayerChange(
        decision_id=decision_id,
        ts=ts,
        session_date=date(2020, 2, 24),
        layer=layer,
        is_active=is_active,
        reasons=(MACD,),
        exit_rule="MACD line >= 0 for 3 closes",
    )
