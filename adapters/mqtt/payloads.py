"""Wire models (pydantic v2) of everything alvhd publishes, and of its journal rows.

One JSON form is used everywhere: the MQTT payloads *and* the SQLite journal store a
decision as ``decision_to_json(d)``; ``decision_from_json`` rebuilds the core value.
Every model carries ``v`` (schema version: 1, except orders, which are v2 since they
carry their scenario inputs, issue 10); a consumer must reject a ``v`` it does not know.
Datetimes are ISO 8601 UTC (``"2020-03-18T21:00:00Z"``), dates ``"2020-03-18"``; prices
are per share (index points), ``*_usd`` fields are USD.

Decision payloads carry a ``type`` discriminator: ``"order"``, ``"alert"``,
``"layer_change"``.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import date
from typing import Annotated, Literal, assert_never

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from daemon.core.model import (
    Action,
    Alert,
    AlertKind,
    Decision,
    Layer,
    LayerChange,
    MarketCheck,
    OptionLeg,
    OrderIntent,
    OrderState,
    OrderStatusReport,
    ProposedOrder,
    Quote,
    Right,
    ScenarioInputs,
    ScenarioResult,
    Severity,
    SignalReading,
)
from daemon.errors import DataError

SCHEMA_VERSION = 1
"""Current ``v`` of every payload except orders."""

ORDER_SCHEMA_VERSION = 2
"""Current ``v`` of ``orders/proposed``: v2 adds ``inputs`` (every input of the SPEC §5
scenario, so that a proposal can be recomputed from its own payload; issue 10). v1 rows
(no ``inputs``) still read from an older journal. Issue 7 added, within v2 (consumers
ignore unknown fields; the defaults keep every earlier v2 order's meaning), ``market``
(the quoted market behind a live proposal) and ``is_placeable`` (False: an empty or
wide market; published so the operator sees it, never placed)."""

_ORDER_VERSIONS = frozenset({1, ORDER_SCHEMA_VERSION})


class _Wire(BaseModel):
    """Base of every wire model: frozen, strict about unknown keys, no NaN/inf."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class ReadingPayload(_Wire):
    """One SPEC §3 signal reading (``SignalReading``)."""

    id: str
    value: float | None
    threshold: float
    holds: bool
    detail: str = ""

    @classmethod
    def of(cls, r: SignalReading) -> ReadingPayload:
        """Wire form of a core reading."""
        return cls(id=r.id, value=r.value, threshold=r.threshold, holds=r.holds, detail=r.detail)

    def to_core(self) -> SignalReading:
        """The core reading."""
        return SignalReading(
            id=self.id,
            value=self.value,
            threshold=self.threshold,
            holds=self.holds,
            detail=self.detail,
        )


class LegPayload(_Wire):
    """One option leg; ``position_qty`` signed per unit (+ long, − short)."""

    right: Right
    strike: float
    expiry: date
    position_qty: int
    multiplier: int
    trading_class: str

    @classmethod
    def of(cls, leg: OptionLeg) -> LegPayload:
        """Wire form of a core leg."""
        return cls(
            right=leg.right,
            strike=leg.strike,
            expiry=leg.expiry,
            position_qty=leg.position_qty,
            multiplier=leg.multiplier,
            trading_class=leg.trading_class,
        )

    def to_core(self) -> OptionLeg:
        """The core leg."""
        return OptionLeg(
            right=self.right,
            strike=self.strike,
            expiry=self.expiry,
            position_qty=self.position_qty,
            multiplier=self.multiplier,
            trading_class=self.trading_class,
        )


class ScenarioPayload(_Wire):
    """SPEC §5 scenario figures behind a proposal (``ScenarioResult``; see its units)."""

    vix_shock_pts: float
    spx_move_pct: float
    iwm_move_pct: float
    vx_future_move_pts: float
    scenario_loss_usd: float
    gain_per_contract_usd: float
    cover_frac: float
    hedge_vix_delta_usd_per_pt: float
    condor_vega_usd_per_pt: float

    @classmethod
    def of(cls, s: ScenarioResult) -> ScenarioPayload:
        """Wire form of a core scenario result."""
        return cls(
            vix_shock_pts=s.vix_shock_pts,
            spx_move_pct=s.spx_move_pct,
            iwm_move_pct=s.iwm_move_pct,
            vx_future_move_pts=s.vx_future_move_pts,
            scenario_loss_usd=s.scenario_loss_usd,
            gain_per_contract_usd=s.gain_per_contract_usd,
            cover_frac=s.cover_frac,
            hedge_vix_delta_usd_per_pt=s.hedge_vix_delta_usd_per_pt,
            condor_vega_usd_per_pt=s.condor_vega_usd_per_pt,
        )

    def to_core(self) -> ScenarioResult:
        """The core scenario result."""
        return ScenarioResult(
            vix_shock_pts=self.vix_shock_pts,
            spx_move_pct=self.spx_move_pct,
            iwm_move_pct=self.iwm_move_pct,
            vx_future_move_pts=self.vx_future_move_pts,
            scenario_loss_usd=self.scenario_loss_usd,
            gain_per_contract_usd=self.gain_per_contract_usd,
            cover_frac=self.cover_frac,
            hedge_vix_delta_usd_per_pt=self.hedge_vix_delta_usd_per_pt,
            condor_vega_usd_per_pt=self.condor_vega_usd_per_pt,
        )


class FuturePayload(_Wire):
    """One VX future known at the evaluation: its expiry (final settlement) and price."""

    expiry: date
    price: float


class InputsPayload(_Wire):
    """Every input of the SPEC §5 scenario behind a proposal (``ScenarioInputs``, units there).

    Recompute from it alone: condor legs (Black–Scholes–Merton, flat iv = vix_pts/100,
    then + iv_shift, SPX × (1 + spx_pct_per_vix_pt_used × Δ / 100), rate and dividend
    yield, ACT/365 from ``session_date``) and the satellite (−notional × IWM move) give
    ``scenario_loss_usd``; the order's opening legs priced with Black-76 on ``future_pts``
    (and + ``vx_future_move_pts``) at ``vix_option_iv`` give ``gain_per_contract_usd``.
    """

    spx_pts: float
    iwm_usd: float
    vix_pts: float
    vx_futures: tuple[FuturePayload, ...]
    hedge_expiry: date
    future_pts: float
    future_source: Literal["vx_future", "vx_interpolated", "vx_nearest", "spot_vix"]
    spx_pct_per_vix_pt: float | None
    spx_pct_per_vix_pt_used: float
    is_beta_floor_bound: bool
    beta_iwm_spx_30d: float | None
    beta_iwm_spx_90d: float | None
    beta_iwm_spx_used: float
    iv_shift: float
    vix_option_iv: float
    vix_option_iv_source: str
    vx_beta_to_spot: float
    risk_free_rate: float
    spx_dividend_yield: float
    condor_legs: tuple[LegPayload, ...]
    condor_contracts: int
    condor_credit: float
    condor_break_evens: tuple[float, ...]
    satellite_notional_usd: float

    @classmethod
    def of(cls, i: ScenarioInputs) -> InputsPayload:
        """Wire form of core scenario inputs."""
        return cls(
            spx_pts=i.spx_pts,
            iwm_usd=i.iwm_usd,
            vix_pts=i.vix_pts,
            vx_futures=tuple(FuturePayload(expiry=e, price=p) for e, p in i.vx_futures),
            hedge_expiry=i.hedge_expiry,
            future_pts=i.future_pts,
            future_source=i.future_source,
            spx_pct_per_vix_pt=i.spx_pct_per_vix_pt,
            spx_pct_per_vix_pt_used=i.spx_pct_per_vix_pt_used,
            is_beta_floor_bound=i.is_beta_floor_bound,
            beta_iwm_spx_30d=i.beta_iwm_spx_30d,
            beta_iwm_spx_90d=i.beta_iwm_spx_90d,
            beta_iwm_spx_used=i.beta_iwm_spx_used,
            iv_shift=i.iv_shift,
            vix_option_iv=i.vix_option_iv,
            vix_option_iv_source=i.vix_option_iv_source,
            vx_beta_to_spot=i.vx_beta_to_spot,
            risk_free_rate=i.risk_free_rate,
            spx_dividend_yield=i.spx_dividend_yield,
            condor_legs=tuple(LegPayload.of(leg) for leg in i.condor_legs),
            condor_contracts=i.condor_contracts,
            condor_credit=i.condor_credit,
            condor_break_evens=i.condor_break_evens,
            satellite_notional_usd=i.satellite_notional_usd,
        )

    def to_core(self) -> ScenarioInputs:
        """The core scenario inputs."""
        return ScenarioInputs(
            spx_pts=self.spx_pts,
            iwm_usd=self.iwm_usd,
            vix_pts=self.vix_pts,
            vx_futures=tuple((f.expiry, f.price) for f in self.vx_futures),
            hedge_expiry=self.hedge_expiry,
            future_pts=self.future_pts,
            future_source=self.future_source,
            spx_pct_per_vix_pt=self.spx_pct_per_vix_pt,
            spx_pct_per_vix_pt_used=self.spx_pct_per_vix_pt_used,
            is_beta_floor_bound=self.is_beta_floor_bound,
            beta_iwm_spx_30d=self.beta_iwm_spx_30d,
            beta_iwm_spx_90d=self.beta_iwm_spx_90d,
            beta_iwm_spx_used=self.beta_iwm_spx_used,
            iv_shift=self.iv_shift,
            vix_option_iv=self.vix_option_iv,
            vix_option_iv_source=self.vix_option_iv_source,
            vx_beta_to_spot=self.vx_beta_to_spot,
            risk_free_rate=self.risk_free_rate,
            spx_dividend_yield=self.spx_dividend_yield,
            condor_legs=tuple(leg.to_core() for leg in self.condor_legs),
            condor_contracts=self.condor_contracts,
            condor_credit=self.condor_credit,
            condor_break_evens=self.condor_break_evens,
            satellite_notional_usd=self.satellite_notional_usd,
        )


class MarketCheckPayload(_Wire):
    """The quoted market behind a proposal (``orders/proposed`` ``market``; issue 7).

    ``status``: ``ok``, ``wide`` (spread above ``orders.max_spread_frac`` of the mid; a
    combination: a leg's) or ``empty`` (no bid or no ask); ``bid``/``ask`` per share, the
    unit's net; ``spread_frac`` = (ask − bid) / mid; ``detail`` says what is wrong.
    """

    status: Literal["ok", "wide", "empty"]
    bid: float | None
    ask: float | None
    spread_frac: float | None
    detail: str = ""

    @classmethod
    def of(cls, m: MarketCheck) -> MarketCheckPayload:
        """Wire form of a core market check."""
        status: Literal["ok", "wide", "empty"] = (
            "ok" if m.status == "ok" else "empty" if m.status == "empty" else "wide"
        )
        return cls(status=status, bid=m.bid, ask=m.ask, spread_frac=m.spread_frac, detail=m.detail)

    def to_core(self) -> MarketCheck:
        """The core market check."""
        return MarketCheck(
            status=self.status,
            bid=self.bid,
            ask=self.ask,
            spread_frac=self.spread_frac,
            detail=self.detail,
        )


class OrderPayload(_Wire):
    """A proposed limit order (``orders/proposed``): every ``ProposedOrder`` field.

    ``limit_price`` is per unit per share (index points); ``cost_usd`` includes the
    multiplier and the contracts. Consumers dedup on ``decision_id`` / ``order_ref``.
    ``inputs`` (v2) holds every input of the SPEC §5 scenario behind it.
    """

    v: int = ORDER_SCHEMA_VERSION
    type: Literal["order"] = "order"
    decision_id: str
    ts: AwareDatetime
    session_date: date
    layer: Layer
    intent: OrderIntent
    legs: tuple[LegPayload, ...]
    action: Action
    contracts: int
    limit_price: float
    order_ref: str
    tif: str
    cost_usd: float
    is_capped: bool
    reasons: tuple[ReadingPayload, ...]
    scenario: ScenarioPayload | None
    break_evens: tuple[float, ...]
    note: str
    inputs: InputsPayload | None = None
    price_source: Literal["market", "model"] = "model"
    market: MarketCheckPayload | None = None
    is_placeable: bool = True

    @classmethod
    def of(cls, o: ProposedOrder) -> OrderPayload:
        """Wire form of a core proposed order."""
        return cls(
            decision_id=o.decision_id,
            ts=o.ts,
            session_date=o.session_date,
            layer=o.layer,
            intent=o.intent,
            legs=tuple(LegPayload.of(leg) for leg in o.legs),
            action=o.action,
            contracts=o.contracts,
            limit_price=o.limit_price,
            order_ref=o.order_ref,
            tif=o.tif,
            cost_usd=o.cost_usd,
            is_capped=o.is_capped,
            reasons=tuple(ReadingPayload.of(r) for r in o.reasons),
            scenario=None if o.scenario is None else ScenarioPayload.of(o.scenario),
            break_evens=o.break_evens,
            note=o.note,
            inputs=None if o.inputs is None else InputsPayload.of(o.inputs),
            price_source="market" if o.price_source == "market" else "model",
            market=None if o.market is None else MarketCheckPayload.of(o.market),
            is_placeable=o.is_placeable,
        )

    def to_core(self) -> ProposedOrder:
        """The core proposed order."""
        return ProposedOrder(
            decision_id=self.decision_id,
            ts=self.ts,
            session_date=self.session_date,
            layer=self.layer,
            intent=self.intent,
            legs=tuple(leg.to_core() for leg in self.legs),
            action=self.action,
            contracts=self.contracts,
            limit_price=self.limit_price,
            order_ref=self.order_ref,
            tif=self.tif,
            cost_usd=self.cost_usd,
            is_capped=self.is_capped,
            reasons=tuple(r.to_core() for r in self.reasons),
            scenario=None if self.scenario is None else self.scenario.to_core(),
            break_evens=self.break_evens,
            note=self.note,
            inputs=None if self.inputs is None else self.inputs.to_core(),
            price_source=self.price_source,
            market=None if self.market is None else self.market.to_core(),
            is_placeable=self.is_placeable,
        )


class AlertPayload(_Wire):
    """An operator alert (``alerts/{kind}``); ``key`` identifies the condition."""

    v: int = SCHEMA_VERSION
    type: Literal["alert"] = "alert"
    decision_id: str
    ts: AwareDatetime
    kind: AlertKind
    severity: Severity
    key: str
    message: str
    layer: Layer | None = None
    reasons: tuple[ReadingPayload, ...] = ()
    exit_rule: str = ""

    @classmethod
    def of(cls, a: Alert) -> AlertPayload:
        """Wire form of a core alert."""
        return cls(
            decision_id=a.decision_id,
            ts=a.ts,
            kind=a.kind,
            severity=a.severity,
            key=a.key,
            message=a.message,
            layer=a.layer,
            reasons=tuple(ReadingPayload.of(r) for r in a.reasons),
            exit_rule=a.exit_rule,
        )

    def to_core(self) -> Alert:
        """The core alert."""
        return Alert(
            decision_id=self.decision_id,
            ts=self.ts,
            kind=self.kind,
            severity=self.severity,
            key=self.key,
            message=self.message,
            layer=self.layer,
            reasons=tuple(r.to_core() for r in self.reasons),
            exit_rule=self.exit_rule,
        )


class LayerChangePayload(_Wire):
    """A layer switched on (``is_active``) or off, with the readings behind it."""

    v: int = SCHEMA_VERSION
    type: Literal["layer_change"] = "layer_change"
    decision_id: str
    ts: AwareDatetime
    session_date: date
    layer: Layer
    is_active: bool
    reasons: tuple[ReadingPayload, ...]
    exit_rule: str

    @classmethod
    def of(cls, c: LayerChange) -> LayerChangePayload:
        """Wire form of a core layer change."""
        return cls(
            decision_id=c.decision_id,
            ts=c.ts,
            session_date=c.session_date,
            layer=c.layer,
            is_active=c.is_active,
            reasons=tuple(ReadingPayload.of(r) for r in c.reasons),
            exit_rule=c.exit_rule,
        )

    def to_core(self) -> LayerChange:
        """The core layer change."""
        return LayerChange(
            decision_id=self.decision_id,
            ts=self.ts,
            session_date=self.session_date,
            layer=self.layer,
            is_active=self.is_active,
            reasons=tuple(r.to_core() for r in self.reasons),
            exit_rule=self.exit_rule,
        )


class LayerPayload(_Wire):
    """Retained ladder state on ``layers``: the active layers and the last change.

    ``decision_id`` repeats ``last_change.decision_id`` at the top level so consumers
    can dedup/trace every message by one key (None for an initial state).
    """

    v: int = SCHEMA_VERSION
    ts: AwareDatetime
    active_layers: tuple[Layer, ...]
    last_change: LayerChangePayload | None = None
    decision_id: str | None = None


class StatusPayload(_Wire):
    """Retained daemon status on ``status`` (``offline`` is also the Last Will).

    Attributes:
        state: ``online`` after connecting, ``offline`` on clean shutdown or lost socket.
        ts: when the status was produced (for the Last Will: when the daemon last re-armed
            it, i.e. was last seen alive, at most one status heartbeat before it died).
        mode: ``paper`` (default) or ``live`` order handling.
        source: market data source (``ibkr``, ``replay``, ``sim``).
        version: alvhd version.
        source_done: a finite source (replay/sim) was fully processed and every
            decision published; the daemon stays up until stopped.
        health: ``ok``, or ``degraded`` while one of ``reasons`` holds (the daemon runs
            and publishes, but something around it is failing).
        reasons: why ``degraded``: ``ib_unreachable`` (no IB API link), ``mqtt_backlog``
            (decisions waiting to be published), ``data_stale`` (a required series has
            no valid quote), ``journal_failed``; empty when ``ok``.
        clean_stop: on ``offline`` only: True after a clean stop (SIGTERM, end of a
            replay), False in the Last Will (the process died or lost the broker).
        online_since: when this MQTT session started (the Last Will was armed then).
        quotes_rejected: quotes refused at the edge since start, per symbol and reason
            (``{"SPX": {"implausible": 1}}``: ``implausible`` = quarantined by the
            plausibility filter; ``nan``, ``non_positive``, ``crossed``, ``delayed``...).
    """

    v: int = SCHEMA_VERSION
    state: Literal["online", "offline"]
    ts: AwareDatetime
    mode: Literal["paper", "live"]
    source: str
    version: str
    source_done: bool = False
    health: Literal["ok", "degraded"] = "ok"
    reasons: tuple[str, ...] = ()
    clean_stop: bool | None = None
    online_since: AwareDatetime | None = None
    quotes_rejected: dict[str, dict[str, int]] = Field(default_factory=dict)


class SignalsPayload(_Wire):
    """Retained latest signal readings on ``signals`` (informational)."""

    v: int = SCHEMA_VERSION
    ts: AwareDatetime
    session_date: date
    is_provisional: bool
    readings: tuple[ReadingPayload, ...]


class QuotePayload(_Wire):
    """One latest quote on ``market``: price (index points / USD), bid/ask, when seen."""

    price: float
    bid: float | None
    ask: float | None
    ts: AwareDatetime
    session_date: date

    @classmethod
    def of(cls, quote: Quote) -> QuotePayload:
        """Wire form of a core ``Quote``."""
        return cls(
            price=quote.price,
            bid=quote.bid,
            ask=quote.ask,
            ts=quote.ts,
            session_date=quote.session_date,
        )


class MarketPayload(_Wire):
    """Retained latest quotes per symbol and the active layers on ``market`` (live)."""

    v: int = SCHEMA_VERSION
    ts: AwareDatetime
    quotes: dict[str, QuotePayload]
    active_layers: tuple[Layer, ...]


class OrderStatusPayload(_Wire):
    """A placed order's state change on ``orders/status`` (QoS 1, not retained).

    ``status`` is one of ``submitted``, ``partially_filled``, ``filled``, ``cancelled``,
    ``expired`` (a DAY order the exchange cancelled at the close), ``rejected`` (with IB's
    ``error_code`` and ``error_text``). Quantities are order units (a combo's units, not leg
    contracts); prices are per share (index points). Consumers dedup on
    ``(order_ref, status, filled_qty)``.
    """

    v: int = SCHEMA_VERSION
    type: Literal["order_status"] = "order_status"
    order_ref: str
    decision_id: str
    status: OrderState
    filled_qty: float
    remaining_qty: float
    avg_price: float | None
    limit_price: float | None
    error_code: int | None
    error_text: str
    init_margin_change_usd: float | None
    ts: AwareDatetime

    @classmethod
    def of(cls, r: OrderStatusReport) -> OrderStatusPayload:
        """Wire model of a core report."""
        return cls(
            order_ref=r.order_ref,
            decision_id=r.decision_id,
            status=r.status,
            filled_qty=r.filled_qty,
            remaining_qty=r.remaining_qty,
            avg_price=r.avg_price,
            limit_price=r.limit_price,
            error_code=r.error_code,
            error_text=r.error_text,
            init_margin_change_usd=r.init_margin_change_usd,
            ts=r.ts,
        )

    def to_core(self) -> OrderStatusReport:
        """The core report."""
        return OrderStatusReport(
            order_ref=self.order_ref,
            decision_id=self.decision_id,
            status=self.status,
            filled_qty=self.filled_qty,
            remaining_qty=self.remaining_qty,
            avg_price=self.avg_price,
            limit_price=self.limit_price,
            error_code=self.error_code,
            error_text=self.error_text,
            init_margin_change_usd=self.init_margin_change_usd,
            ts=self.ts,
        )


DecisionPayload = Annotated[
    OrderPayload | AlertPayload | LayerChangePayload, Field(discriminator="type")
]
"""Any decision payload, discriminated on ``type``."""

_DECISION_ADAPTER: TypeAdapter[OrderPayload | AlertPayload | LayerChangePayload] = TypeAdapter(
    DecisionPayload
)


def to_payload(decision: Decision) -> OrderPayload | AlertPayload | LayerChangePayload:
    """The wire model of a core decision."""
    match decision:
        case ProposedOrder():
            return OrderPayload.of(decision)
        case Alert():
            return AlertPayload.of(decision)
        case LayerChange():
            return LayerChangePayload.of(decision)
        case _:
            assert_never(decision)


_WIRE_MEMO: OrderedDict[str, tuple[Decision, str]] = OrderedDict()
_WIRE_MEMO_SIZE = 1024
"""Decisions whose JSON is remembered (≈ 1 KB each). A replay journals up to the outbox
(1,000 by default) ahead of the publisher: with 256 most of its decisions were encoded
twice (issue 9 profile: 3,367 encodes for 2,094 decisions)."""


def decision_to_json(decision: Decision) -> str:
    """The canonical JSON form of a decision (MQTT payload and journal row).

    Issue 9: the journal and then the MQTT publisher serialise the same decision object
    within milliseconds (an order's payload costs ~0.1 ms), so the last
    ``_WIRE_MEMO_SIZE`` results are remembered by ``decision_id`` and reused only for the
    very same (immutable) object.
    """
    hit = _WIRE_MEMO.get(decision.decision_id)
    if hit is not None and hit[0] is decision:
        return hit[1]
    text = to_payload(decision).model_dump_json()
    _WIRE_MEMO[decision.decision_id] = (decision, text)
    if len(_WIRE_MEMO) > _WIRE_MEMO_SIZE:
        _WIRE_MEMO.popitem(last=False)
    return text


def decision_from_json(data: str | bytes) -> Decision:
    """Rebuild a core decision from ``decision_to_json`` output.

    Raises:
        DataError: not valid JSON of a known decision type, or an unknown ``v``.
    """
    try:
        payload = _DECISION_ADAPTER.validate_json(data)
    except ValidationError as exc:
        raise DataError(f"unreadable decision payload: {exc.error_count()} error(s)") from exc
    if isinstance(payload, OrderPayload):
        if payload.v not in _ORDER_VERSIONS:
            raise DataError(
                f"order payload v={payload.v}; this build reads v={sorted(_ORDER_VERSIONS)}"
            )
    elif payload.v != SCHEMA_VERSION:
        raise DataError(f"decision payload v={payload.v}; this build reads v={SCHEMA_VERSION}")
    return payload.to_core()
