"""Builders for the engine-part tests: a synthetic market day, a desk, hedge positions.

Not a test module. Everything is built from the real core types; nothing is mocked.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from daemon.core.context import DayCtx, DecisionIds
from daemon.core.desk import OrderDesk
from daemon.core.hedge_book import HedgeBook
from daemon.core.model import HedgePosition, Layer, OptionLeg, Right
from daemon.core.params import EngineParams
from daemon.core.scenario import MarketState, condor_risk, open_template_condor
from daemon.core.signals import SignalSnapshot

DAY = date(2020, 3, 2)
VX_MAR = date(2020, 3, 18)
VX_APR = date(2020, 4, 15)


def state(day: date = DAY, *, spx: float = 3000.0, vix: float = 30.0) -> MarketState:
    """A stressed market day with a VX curve (March and April futures)."""
    return MarketState(
        session_date=day,
        spx=spx,
        iwm=150.0,
        vix=vix,
        vx_curve=((VX_MAR, vix - 1.0), (VX_APR, vix - 2.0)),
        spx_pct_per_vix_pt=-0.4,
        beta_iwm_spx=1.1,
    )


def vix_call(strike: float, expiry: date, qty: int = 1) -> OptionLeg:
    """One VIX call leg per unit (``qty`` +1 long, −1 short)."""
    return OptionLeg(
        right=Right.CALL,
        strike=strike,
        expiry=expiry,
        position_qty=qty,
        multiplier=100,
        trading_class="VIX",
    )


def hedge(
    layer: Layer, legs: tuple[OptionLeg, ...], contracts: int, premium_usd: float
) -> HedgePosition:
    """A held hedge opened on :data:`DAY`."""
    return HedgePosition(
        layer=layer,
        legs=legs,
        contracts=contracts,
        premium_paid_usd=premium_usd,
        order_ref=f"test:{layer.value}",
        opened_on=DAY,
    )


def desk(params: EngineParams | None = None, *, assume_fills: bool = True) -> OrderDesk:
    """A desk with an empty book, no condor yet."""
    return OrderDesk(
        params or EngineParams(), HedgeBook(), DecisionIds(), assume_fills=assume_fills
    )


def snapshot(day: date, *, beta_30d: float | None = 1.0) -> SignalSnapshot:
    """A signal snapshot with no readings (the parts under test read only the betas)."""
    return SignalSnapshot(
        session_date=day,
        is_provisional=False,
        readings=(),
        ratio_macd_line=None,
        ratio_rsi=None,
        vix_rsi=None,
        vix_macd_line=None,
        vix_macd_signal=None,
        iv_spread_pts=None,
        iv_spread_mean_pts=None,
        term_ratio=None,
        spx_pct_per_vix_pt=-0.4,
        beta_iwm_spx_30d=beta_30d,
        beta_iwm_spx_90d=None,
    )


def ctx(d: OrderDesk, st: MarketState | None = None, *, with_condor: bool = True) -> DayCtx:
    """An evaluation of ``st`` (default :func:`state`); opens the template condor on ``d``."""
    st = st or state()
    snap = snapshot(st.session_date)
    c = DayCtx(
        session_date=st.session_date,
        now=datetime.combine(st.session_date, time(21, 0), tzinfo=UTC),
        session_index=0,
        snapshot=snap,
        state=st,
    )
    if with_condor:
        p = d.params
        d.condor = open_template_condor(st, p.condor_template, p.scenario)
        c.risk = condor_risk(d.condor, p.satellite_notional_usd, st, p.scenario)
    return c
