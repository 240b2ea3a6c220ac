"""Core value types of alvhd: quotes, bars, positions, signal readings and decisions.

The P&L records and the day's summary (``LayerPnl``, ``CondorPnl``, ``DayPnl``,
``DaySummary``) are in :mod:`daemon.core.pnl`.

Every type here is a frozen, slotted, keyword-only dataclass (STYLE.md §2.4): pure values
that cross the ports. A missing number is ``None``, never NaN; the adapters reject NaN at
the edge (``Rejected``). Prices are per share of the contract (index points for SPX/VIX
options); USD amounts carry ``_usd`` and include the contract ``multiplier``.

Sign conventions: ``position_qty`` is signed (+ long, − short). ``net_credit`` of a short
iron condor is positive (USD per share received). Scenario losses are positive numbers
(``scenario_loss_usd`` = how much the position loses), scenario gains are positive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import FrozenInstanceError, dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, TypeAlias, assert_never

from daemon.core.fastinit import fast_init


class Symbol(StrEnum):
    """Market series the daemon follows (SPEC §2)."""

    SPX = "SPX"
    IWM = "IWM"
    VIX = "VIX"
    RVX = "RVX"
    VIX3M = "VIX3M"
    VX1 = "VX1"
    """Front-month VX future (nearest monthly expiry after today)."""
    VX2 = "VX2"
    """Second-month VX future."""
    VX3 = "VX3"
    """Third listed monthly VX future (prices VIX options of that expiry; issue 10)."""
    VX4 = "VX4"
    """Fourth listed monthly VX future."""


REQUIRED_SYMBOLS: frozenset[Symbol] = frozenset({Symbol.SPX, Symbol.IWM, Symbol.VIX})
"""Series without which no decision is made; the others are optional (SPEC §2)."""


class Right(StrEnum):
    """Option right."""

    PUT = "P"
    CALL = "C"


class Action(StrEnum):
    """Order-leg side."""

    BUY = "BUY"
    SELL = "SELL"


class Layer(StrEnum):
    """Hedge ladder layers (SPEC §4). Cumulative: L2 requires L1."""

    L1 = "L1"
    L2 = "L2"
    L3 = "L3"


class OrderIntent(StrEnum):
    """Why an order is proposed (SPEC §4/§6)."""

    OPEN = "open"
    """Layer activation: buy the layer's hedge."""
    CLOSE = "close"
    """Layer deactivation: sell the layer's hedge."""
    RESIZE = "resize"
    """Rebalance (cadence or big_move): buy or sell the difference."""
    ROLL = "roll"
    """Time-shifting: close the near expiry, open the next (one proposal, two legs)."""


class Severity(StrEnum):
    """Alert severity, as shown to the operator."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertKind(StrEnum):
    """What an alert is about; also the last part of its MQTT topic."""

    LAYER_ACTIVATED = "layer_activated"
    LAYER_DEACTIVATED = "layer_deactivated"
    COST_CAP = "cost_cap"
    ROLL = "roll"
    REBALANCE = "rebalance"
    DATA_STALE = "data_stale"
    CALENDAR_EXPIRING = "calendar_expiring"
    DATA_SUSPECT = "data_suspect"
    """Implausible quotes quarantined (issue 6 §3); one per symbol per episode + cleared."""
    ENGINE = "engine"
    """An evaluation the engine could not complete (an extreme market state); skipped."""
    BROKER = "broker"
    ORDER = "order"
    JOURNAL = "journal"


class TermStructure(StrEnum):
    """VIX term structure from VIX / VIX3M (SPEC §3 ``backwardation``)."""

    CONTANGO = "contango"
    BACKWARDATION = "backwardation"


# --------------------------------------------------------------------------- market data


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Quote:
    """One validated price observation.

    Attributes:
        symbol: the series.
        price: last trade or mid, > 0 and finite (index points / USD per share).
        ts: when it was observed, tz-aware UTC.
        session_date: the exchange session (trading day, America/New_York) it belongs to.
        bid: best bid, if known (> 0).
        ask: best ask, if known (>= bid).
        expiry: for VX futures (VX1/VX2): the contract's final settlement date.
        is_settlement: the price is an official daily close taken from a daily bar (the
            replay source), i.e. already confirmed data: the plausibility filter
            (:mod:`daemon.core.plausibility`) accepts it even after a large move.
    """

    symbol: Symbol
    price: float
    ts: datetime
    session_date: date
    bid: float | None = None
    ask: float | None = None
    expiry: date | None = None
    is_settlement: bool = False


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class SessionClose:
    """Marks the end of a trading session: the last quote of each symbol is its close.

    Emitted by replay/simulator sources after a day's quotes, and by the live shell when
    the exchange calendar says the session has closed.
    """

    session_date: date
    ts: datetime


MarketEvent = Quote | SessionClose
"""What a MarketDataSource yields."""


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Bar:
    """One daily OHLC bar (index points / USD per share). ``close`` > 0 and finite."""

    symbol: Symbol
    session_date: date
    open: float
    high: float
    low: float
    close: float
    expiry: date | None = None
    """For VX futures: the contract's final settlement date."""


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Rejected:
    """A bad input point, refused at the edge and counted (never an exception).

    Attributes:
        reason: short machine-readable reason (``"nan"``, ``"non_positive"``, ``"bid_gt_ask"``,
            ``"delayed"``, ``"stale"``, ``"malformed_row"``, ...).
        symbol: the series, when known.
        detail: human-readable detail (file and line, raw value).
    """

    reason: str
    symbol: Symbol | None = None
    detail: str = ""


# --------------------------------------------------------------------------- positions


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OptionLeg:
    """One option position or order leg.

    Attributes:
        right: put or call.
        strike: strike in index points.
        expiry: expiration date.
        position_qty: signed contracts (+ long, − short).
        multiplier: contract multiplier (100 for SPX and VIX options), from contract details.
        trading_class: exchange trading class (``"SPXW"``, ``"SPX"``, ``"VIX"``).
    """

    right: Right
    strike: float
    expiry: date
    position_qty: int
    multiplier: int
    trading_class: str


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class IronCondor:
    """A short iron condor on SPX (SPEC §1).

    ``long_put_strike < short_put_strike < short_call_strike < long_call_strike``.

    Attributes:
        net_credit: credit received, USD per share (> 0).
        contracts: number of condors (> 0).
        multiplier: 100 for SPX options.
        opened_on: session date the condor was opened (replay/sim), if known.
    """

    short_put_strike: float
    long_put_strike: float
    short_call_strike: float
    long_call_strike: float
    expiry: date
    contracts: int
    net_credit: float
    multiplier: int
    trading_class: str = "SPXW"
    opened_on: date | None = None

    @property
    def break_even_low(self) -> float:
        """Lower break-even at expiry: short put strike − credit (index points)."""
        return self.short_put_strike - self.net_credit

    @property
    def break_even_high(self) -> float:
        """Upper break-even at expiry: short call strike + credit (index points)."""
        return self.short_call_strike + self.net_credit

    @property
    def wing_width_pts(self) -> float:
        """The wider of the two wings, index points."""
        return max(
            self.short_put_strike - self.long_put_strike,
            self.long_call_strike - self.short_call_strike,
        )

    @property
    def credit_usd(self) -> float:
        """Total credit received, USD: net_credit × multiplier × contracts."""
        return self.net_credit * self.multiplier * self.contracts


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Satellite:
    """Long small-cap ETF exposure (SPEC §1): ``notional_usd`` of ``symbol`` (IWM)."""

    symbol: Symbol
    notional_usd: float


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class HedgePosition:
    """The VIX-option hedge held for one ladder layer (the Second Engine sleeve).

    Attributes:
        layer: the ladder layer it belongs to.
        legs: the option legs per one unit (a call: one leg; a call spread: two legs).
            ``position_qty`` of each leg is per unit (+1 long call, −1 short call).
        contracts: units held (> 0).
        premium_paid_usd: premium paid to open what is still held, USD (> 0 for debits).
        order_ref: orderRef of the order that opened it.
        opened_on: session date of the opening fill.
    """

    layer: Layer
    legs: tuple[OptionLeg, ...]
    contracts: int
    premium_paid_usd: float
    order_ref: str
    opened_on: date

    @property
    def expiry(self) -> date:
        """The (common) expiry of the legs."""
        return self.legs[0].expiry


# --------------------------------------------------------------------------- signals


class SignalReading:
    """One SPEC §3 signal at one evaluation: what it is, where it stands, whether it holds.

    Immutable, compared and hashed by its five attributes, like a frozen dataclass. The
    detail line may be given as a :meth:`str.format` template with ``detail_args``: it is
    then formatted on first read of :attr:`detail` (issue 9: a close builds ten readings and
    formatting their lines eagerly was ~15 % of the engine's time per close, while most
    are never read). The text is the same either way.

    Attributes:
        id: the SPEC §3 id (``"ratio_macd_negative"``, ...).
        value: the computed value (``None`` while its indicator warms up or input is missing).
        threshold: the threshold it is compared to.
        holds: whether the signal condition is true (False when ``value`` is None).
        detail: one human-readable line (``"MACD(12,26) of IWM/SPX = -0.0012 < 0"``).

    Args:
        id: see Attributes.
        value: see Attributes.
        threshold: see Attributes.
        holds: see Attributes.
        detail: the detail line, or its ``str.format`` template when ``detail_args`` is set.
        detail_args: positional arguments of the template (None: ``detail`` is the text).
    """

    __slots__ = ("_args", "_detail", "holds", "id", "threshold", "value")

    id: str
    value: float | None
    threshold: float
    holds: bool
    _detail: str
    _args: tuple[object, ...] | None

    def __init__(
        self,
        *,
        id: str,  # noqa: A002 - the SPEC's name for it, as in the dataclass it replaces
        value: float | None,
        threshold: float,
        holds: bool,
        detail: str = "",
        detail_args: tuple[object, ...] | None = None,
    ) -> None:
        # the slots' own setters: cheaper than object.__setattr__ (ten readings a close)
        _set_id(self, id)
        _set_value(self, value)
        _set_threshold(self, threshold)
        _set_holds(self, holds)
        _set_detail(self, detail)
        _set_args(self, detail_args)

    @property
    def detail(self) -> str:
        """The human-readable line (formatted once, on first read, from a template)."""
        args = self._args
        if args is None:
            return self._detail
        text = self._detail.format(*args)
        object.__setattr__(self, "_detail", text)
        object.__setattr__(self, "_args", None)
        return text

    def _key(self) -> tuple[str, float | None, float, bool, str]:
        return (self.id, self.value, self.threshold, self.holds, self.detail)

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not SignalReading:
            return NotImplemented
        assert isinstance(other, SignalReading)  # noqa: S101 - narrowing for mypy
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"SignalReading(id={self.id!r}, value={self.value!r}, threshold={self.threshold!r}, "
            f"holds={self.holds!r}, detail={self.detail!r})"
        )

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (_signal_reading, (self.id, self.value, self.threshold, self.holds, self.detail))


_SlotSetter: TypeAlias = Callable[[SignalReading, object], None]
_READING_SLOTS = vars(SignalReading)
_set_id: _SlotSetter = _READING_SLOTS["id"].__set__
_set_value: _SlotSetter = _READING_SLOTS["value"].__set__
_set_threshold: _SlotSetter = _READING_SLOTS["threshold"].__set__
_set_holds: _SlotSetter = _READING_SLOTS["holds"].__set__
_set_detail: _SlotSetter = _READING_SLOTS["_detail"].__set__
_set_args: _SlotSetter = _READING_SLOTS["_args"].__set__
_new_object = object.__new__


def new_reading(  # noqa: PLR0917 - positional on purpose: ten readings a close (issue 9)
    signal_id: str,
    value: float | None,
    threshold: float,
    holds: bool,
    detail: str,
    detail_args: tuple[object, ...] | None = None,
) -> SignalReading:
    """A :class:`SignalReading` built from positional arguments (the same value).

    The readings of every evaluation are built here: no keyword parsing, the slots set
    directly; equal to ``SignalReading(id=..., value=..., ...)`` in every respect.

    Args:
        signal_id: the SPEC §3 id.
        value: the computed value (None: unknown).
        threshold: the threshold it is compared to.
        holds: whether the condition is true.
        detail: the detail line, or its ``str.format`` template with ``detail_args``.
        detail_args: positional arguments of the template (None: ``detail`` is the text).
    """
    reading: SignalReading = _new_object(SignalReading)
    _set_id(reading, signal_id)
    _set_value(reading, value)
    _set_threshold(reading, threshold)
    _set_holds(reading, holds)
    _set_detail(reading, detail)
    _set_args(reading, detail_args)
    return reading


def _signal_reading(
    id_: str, value: float | None, threshold: float, holds: bool, detail: str
) -> SignalReading:
    """Rebuild a :class:`SignalReading` (pickle and copy)."""
    return SignalReading(id=id_, value=value, threshold=threshold, holds=holds, detail=detail)


# --------------------------------------------------------------------------- decisions


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioResult:
    """SPEC §5 scenario outcome for one proposal (recorded in every proposal).

    Attributes:
        vix_shock_pts: Δ, VIX points.
        spx_move_pct: SPX move in the scenario, percent (negative = down).
        iwm_move_pct: IWM move in the scenario, percent.
        vx_future_move_pts: move of the hedge's VX future, points.
        scenario_loss_usd: projected loss L of condor + satellite, USD (positive = loss).
        gain_per_contract_usd: scenario gain of one hedge unit, USD.
        cover_frac: hedge scenario gain / L after sizing and cap (0..).
        hedge_vix_delta_usd_per_pt: hedge P&L per VIX point (vega check), USD.
        condor_vega_usd_per_pt: |condor dollar vega| per IV point, USD.
    """

    vix_shock_pts: float
    spx_move_pct: float
    iwm_move_pct: float
    vx_future_move_pts: float
    scenario_loss_usd: float
    gain_per_contract_usd: float
    cover_frac: float
    hedge_vix_delta_usd_per_pt: float
    condor_vega_usd_per_pt: float


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioInputs:
    """Every input of the SPEC §5 scenario behind a proposal (SPEC §5 rule 7).

    With these alone (and the proposal's legs) the scenario loss ``L`` and the gain per
    unit can be recomputed: Black–Scholes–Merton on the condor legs at flat
    ``iv = vix_pts/100`` (and ``+ iv_shift``), Black-76 on ``future_pts`` for the hedge.

    Attributes:
        spx_pts: SPX level used, index points.
        iwm_usd: IWM price used, USD per share.
        vix_pts: spot VIX used, index points.
        vx_futures: the VX futures known at the evaluation as ``(expiry, price)``, points.
        hedge_expiry: expiry of the hedge legs priced (the opening legs of a roll).
        future_pts: VX future the hedge legs were priced on, points.
        future_source: where ``future_pts`` comes from: ``"vx_future"`` (the future of
            the option's own expiry), or a named fallback: ``"vx_interpolated"`` (between
            two listed futures), ``"vx_nearest"`` (beyond the known curve: the nearest
            future), ``"spot_vix"`` (no future known).
        spx_pct_per_vix_pt: β_vix from the 90-session regression, % SPX per VIX point
            (None while history is short).
        spx_pct_per_vix_pt_used: β_vix applied, % per VIX point.
        is_beta_floor_bound: the configured floor replaced the regression value.
        beta_iwm_spx_30d: 30-session IWM-on-SPX return beta (None while short).
        beta_iwm_spx_90d: 90-session beta (None while short).
        beta_iwm_spx_used: the beta applied (the larger of the two; 1.0 when unknown).
        iv_shift: SPX implied-vol shift of the scenario, decimal (Δ × iv_shift_per_vix_pt).
        vix_option_iv: Black-76 volatility of the VIX options, decimal.
        vix_option_iv_source: ``"config"`` (``scenario.vix_option_iv``; no option quotes) or
            ``"market"`` (the IV IB quotes for the (long) strike, broker mode).
        vx_beta_to_spot: ρ, VX future points per VIX point.
        risk_free_rate: decimal per year (both models).
        spx_dividend_yield: decimal per year (condor legs).
        condor_legs: the condor's legs per condor (signed ``position_qty``); empty
            without a condor.
        condor_contracts: condors held.
        condor_credit: net credit received, USD per share (index points).
        condor_break_evens: ``(K_sp − C, K_sc + C)``, index points; empty without condor.
        satellite_notional_usd: long IWM notional in the scenario, USD (0 = none).
    """

    spx_pts: float
    iwm_usd: float
    vix_pts: float
    vx_futures: tuple[tuple[date, float], ...]
    hedge_expiry: date
    future_pts: float
    future_source: str
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
    condor_legs: tuple[OptionLeg, ...]
    condor_contracts: int
    condor_credit: float
    condor_break_evens: tuple[float, ...]
    satellite_notional_usd: float


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class LayerChange:
    """A ladder layer switched on or off (SPEC §4).

    Attributes:
        decision_id: deterministic id (same inputs → same id, across restarts).
        ts: evaluation time, tz-aware UTC.
        session_date: trading day of the evaluation.
        layer: the layer.
        is_active: True for activation, False for deactivation.
        reasons: the readings that caused the change.
        exit_rule: the rule that will end an activation (SPEC §4 "exit protocol").
    """

    decision_id: str
    ts: datetime
    session_date: date
    layer: Layer
    is_active: bool
    reasons: tuple[SignalReading, ...]
    exit_rule: str


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class MarketCheck:
    """The quoted market a proposal was priced from, and whether it may be traded.

    Attributes:
        status: ``"ok"``, ``"wide"`` (spread above ``orders.max_spread_frac`` of the mid;
            a combination: a leg's) or ``"empty"`` (no bid or no ask).
        bid: the unit's net bid per share (index points), or None (no bid).
        ask: the unit's net ask per share, or None (no ask).
        spread_frac: (ask − bid) / mid of the net market, or None without both sides.
        detail: one line on what is wrong (empty when ``status`` is ``"ok"``).
    """

    status: str
    bid: float | None
    ask: float | None
    spread_frac: float | None
    detail: str = ""


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class ProposedOrder:
    """A limit order proposed for a hedge layer (SPEC §6).

    Attributes:
        decision_id: deterministic id of the decision.
        ts: evaluation time, tz-aware UTC.
        session_date: trading day.
        layer: the ladder layer.
        intent: open / close / resize / roll.
        legs: legs per unit; ``position_qty`` is the signed ratio per unit, action by sign.
        action: BUY or SELL of the whole combo (BUY = pay a debit).
        contracts: units (> 0).
        limit_price: limit per unit, per share (index points), > 0; the mid + offset.
        order_ref: deterministic IB ``orderRef`` (layer, intent, expiry, strike, decision id).
        tif: time in force (``"DAY"``).
        cost_usd: premium of the order (limit × multiplier × contracts), USD.
        is_capped: True when the cost cap scaled the target down.
        reasons: the readings behind it.
        scenario: SPEC §5 figures behind the size, when sized by the scenario.
        break_evens: break-even of each leg at expiry (strike + premium for calls), points.
        note: one human line (``"L1 open: buy 12 VIX 2020-03-18 22C @ 1.35"``).
        inputs: every input of the scenario behind it (SPEC §5.7), when sized by it.
    """

    decision_id: str
    ts: datetime
    session_date: date
    layer: Layer
    intent: OrderIntent
    legs: tuple[OptionLeg, ...]
    action: Action
    contracts: int
    limit_price: float
    order_ref: str
    tif: str
    cost_usd: float
    is_capped: bool
    reasons: tuple[SignalReading, ...]
    scenario: ScenarioResult | None
    break_evens: tuple[float, ...]
    note: str
    inputs: ScenarioInputs | None = None
    price_source: str = "model"
    """Where ``limit_price`` came from: ``"market"`` (the legs' quoted bid/ask mid) or
    ``"model"`` (Black-76 at ``scenario.vix_option_iv``: replay/sim, or no quote)."""
    market: MarketCheck | None = None
    """The quoted market behind it (None: no quote, model-priced)."""
    is_placeable: bool = True
    """False: published so the operator sees what the rules want, but its market is empty
    or wide (``market.status``), so it is never placed and not booked (issue 7)."""


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """An operator-facing alert (MQTT ``alerts/<kind>``, QoS 1).

    Attributes:
        decision_id: deterministic id.
        ts: tz-aware UTC.
        kind: what it is about.
        severity: info / warning / critical.
        key: de-duplication key (same key = same condition; publishers coalesce on it).
        message: one human line.
        layer: the layer concerned, if any.
        reasons: the readings behind it.
        exit_rule: for activations, the rule that will end the layer.
    """

    decision_id: str
    ts: datetime
    kind: AlertKind
    severity: Severity
    key: str
    message: str
    layer: Layer | None = None
    reasons: tuple[SignalReading, ...] = ()
    exit_rule: str = ""


Decision = LayerChange | ProposedOrder | Alert
"""What the engine returns; the shell journals each, then publishes it."""


def decision_kind(decision: Decision) -> str:
    """The kind of a decision: ``order``, ``alert`` or ``layer_change``.

    One name for the journal's ``kind`` column, the wire payload's ``type`` discriminator
    and the metrics' ``kind`` label.
    """
    match decision:
        case ProposedOrder():
            return "order"
        case Alert():
            return "alert"
        case LayerChange():
            return "layer_change"
        case _:
            assert_never(decision)


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    """An execution reported by the broker (or assumed in replay/sim).

    Attributes:
        order_ref: the orderRef of the filled order.
        contracts: units filled (> 0).
        price: average fill price per unit, per share.
        ts: tz-aware UTC.
    """

    order_ref: str
    contracts: int
    price: float
    ts: datetime


class OrderState(StrEnum):
    """Life-cycle state of a placed order as reported on ``orders/status``."""

    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    """A DAY order the exchange cancelled at the close, not (fully) filled."""
    REJECTED = "rejected"


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderStatusReport:
    """A change in a placed order's state (the broker's report, in core terms).

    Attributes:
        order_ref: the orderRef (``alvh:…``) of the order.
        decision_id: the proposal's decision id (last ``:`` field of the orderRef).
        status: the new state.
        filled_qty: units filled so far (combo: combo units, not leg contracts).
        remaining_qty: units still working (0 once done).
        avg_price: average fill price per unit, per share (None before any fill).
        limit_price: the order's limit per unit, per share (None if unknown).
        error_code: the broker's error code of a rejection or cancel (None otherwise).
        error_text: the broker's text of it ("" otherwise).
        init_margin_change_usd: what-if initial-margin change, USD (None if not previewed).
        ts: tz-aware UTC.
    """

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
    ts: datetime
