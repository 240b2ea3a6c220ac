"""What the order desk quotes: a hedge unit's price, and the scenario a proposal carries.

* :func:`price_unit`: one unit of a layer's instrument at the net market mid with the
  market IV of its (long) strike when every leg is quoted (``price_source="market"``;
  broker mode), else Black-76 at ``scenario.vix_option_iv`` (``"model"``). A quoted IV
  at or above :data:`MAX_MARKET_IV` is a bad print: the model IV is used.
* :func:`market_alert`: the ``order`` warning beside a proposal published as not
  placeable because its market is empty or too wide (never traded blindly).
* :func:`scenario_result` and :func:`scenario_inputs`: the SPEC §5 figures and every
  input behind them (SPEC §5.7), so a proposal can be recomputed from its own payload.
"""

from __future__ import annotations

from dataclasses import replace

from daemon.core.context import DayCtx, DecisionIds, leg_text
from daemon.core.hedge_pricing import HedgeUnit, hedge_unit
from daemon.core.listing import NetQuote
from daemon.core.model import (
    Alert,
    AlertKind,
    IronCondor,
    Layer,
    OptionLeg,
    OrderIntent,
    ScenarioInputs,
    ScenarioResult,
    Severity,
    SignalReading,
)
from daemon.core.params import ScenarioParams
from daemon.core.scenario import CondorRisk, MarketState, condor_legs

__all__ = ["MAX_MARKET_IV", "market_alert", "price_unit", "scenario_inputs", "scenario_result"]

MAX_MARKET_IV = 10.0
"""A quoted IV above 1000% is taken as a bad print: the model IV is used instead."""


def price_unit(
    legs: tuple[OptionLeg, ...],
    state: MarketState,
    params: ScenarioParams,
    quote: NetQuote | None,
) -> HedgeUnit:
    """Price, scenario gain and VIX delta of one unit of ``legs``.

    Args:
        legs: the legs of one unit (signed ``position_qty``).
        state: the market state.
        params: scenario parameters.
        quote: the unit's net market (None: no market or no quote).

    Returns:
        With a quoted mid, the unit at the net market mid (``premium_usd`` = mid ×
        multiplier, ``price_source="market"``); with a quoted IV in (0, ``MAX_MARKET_IV``),
        the scenario at that IV (``market_iv`` set); otherwise Black-76 at
        ``params.vix_option_iv`` (``"model"``).
    """
    sp = params
    market_iv = None
    if quote is not None and quote.iv is not None and 0.0 < quote.iv < MAX_MARKET_IV:
        sp = replace(sp, vix_option_iv=quote.iv)
        market_iv = quote.iv
    unit = hedge_unit(legs, state, sp)
    if market_iv is not None:
        unit = replace(unit, market_iv=market_iv)
    mid = quote.mid if quote is not None else None
    if mid is None:
        return unit
    return replace(unit, price=mid, premium_usd=mid * legs[0].multiplier, price_source="market")


def market_alert(
    ids: DecisionIds,
    ctx: DayCtx,
    *,
    layer: Layer,
    intent: OrderIntent,
    legs: tuple[OptionLeg, ...],
    problem: str,
    reasons: tuple[SignalReading, ...],
) -> Alert:
    """The ``order`` warning for a proposal not placed because its market is empty/wide.

    Args:
        ids: the decision-id sequence.
        ctx: the evaluation.
        layer: the layer.
        intent: what the proposal would have done.
        legs: its legs.
        problem: what is wrong with the market (:meth:`~daemon.core.listing.NetQuote.problem`).
        reasons: the readings behind the proposal.
    """
    return Alert(
        decision_id=ids.next(ctx.session_date, "alert", "market", layer.value),
        ts=ctx.now,
        kind=AlertKind.ORDER,
        severity=Severity.WARNING,
        key=f"market:{layer.value}",
        message=f"{layer.value} {intent.value}: {leg_text(legs)} proposed but NOT PLACED: "
        f"{problem}; not traded blindly (the next evaluation tries again)",
        layer=layer,
        reasons=reasons,
    )


def scenario_result(
    unit: HedgeUnit, contracts_after: int, risk: CondorRisk | None, params: ScenarioParams
) -> ScenarioResult | None:
    """The SPEC §5 figures a proposal carries, for ``contracts_after`` units held.

    Args:
        unit: the priced hedge unit.
        contracts_after: units held once the proposal fills.
        risk: the condor's scenario risk (None: no figures).
        params: scenario parameters.
    """
    if risk is None:
        return None
    loss = risk.scenario_loss_usd
    gain = unit.gain_usd * contracts_after
    return ScenarioResult(
        vix_shock_pts=params.vix_shock_pts,
        spx_move_pct=risk.spx_move_pct,
        iwm_move_pct=risk.iwm_move_pct,
        vx_future_move_pts=params.vx_beta_to_spot * params.vix_shock_pts,
        scenario_loss_usd=loss,
        gain_per_contract_usd=unit.gain_usd,
        cover_frac=gain / loss if loss > 0.0 else 0.0,
        hedge_vix_delta_usd_per_pt=unit.vix_delta_usd_per_pt * contracts_after,
        condor_vega_usd_per_pt=abs(risk.condor_vega_usd_per_pt),
    )


def scenario_inputs(
    unit: HedgeUnit | None,
    state: MarketState | None,
    risk: CondorRisk | None,
    condor: IronCondor | None,
    params: ScenarioParams,
) -> ScenarioInputs | None:
    """Every input of the SPEC §5 scenario behind a proposal (SPEC §5.7).

    Args:
        unit: the priced hedge unit the proposal leaves held (its expiry's future and
            the rule that gave it); ``None`` → no scenario inputs.
        state: the market state of the evaluation.
        risk: the condor's scenario risk.
        condor: the condor being hedged (None: none held).
        params: scenario parameters.

    Returns:
        The inputs, or ``None`` without market state, condor risk or unit.
    """
    if state is None or risk is None or unit is None:
        return None
    sp = params
    legs: tuple[OptionLeg, ...] = () if condor is None else condor_legs(condor)
    return ScenarioInputs(
        spx_pts=state.spx,
        iwm_usd=state.iwm,
        vix_pts=state.vix,
        vx_futures=state.vx_curve,
        hedge_expiry=unit.expiry,
        future_pts=unit.future_pts,
        future_source=unit.future_source,
        spx_pct_per_vix_pt=state.spx_pct_per_vix_pt,
        spx_pct_per_vix_pt_used=risk.spx_pct_per_vix_pt_used,
        is_beta_floor_bound=risk.is_beta_floor_bound,
        beta_iwm_spx_30d=state.beta_iwm_spx_30d,
        beta_iwm_spx_90d=state.beta_iwm_spx_90d,
        beta_iwm_spx_used=risk.beta_iwm_spx_used,
        iv_shift=risk.iv_shift,
        vix_option_iv=sp.vix_option_iv if unit.market_iv is None else unit.market_iv,
        vix_option_iv_source="config" if unit.market_iv is None else "market",
        vx_beta_to_spot=sp.vx_beta_to_spot,
        risk_free_rate=sp.risk_free_rate,
        spx_dividend_yield=sp.spx_dividend_yield,
        condor_legs=legs,
        condor_contracts=0 if condor is None else condor.contracts,
        condor_credit=0.0 if condor is None else condor.net_credit,
        condor_break_evens=()
        if condor is None
        else (condor.break_even_low, condor.break_even_high),
        satellite_notional_usd=risk.satellite_notional_usd,
    )
