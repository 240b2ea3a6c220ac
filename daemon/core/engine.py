"""The ALVH engine: quotes and session closes in, decisions out (SPEC §3–§6).

The engine is the pure heart of alvhd. The shell feeds it quotes (``on_quote``, checked
by :func:`daemon.core.quality.check_quote`), session closes (``on_session_close``),
heartbeats and broker fills; it returns :data:`~daemon.core.model.Decision` values
(layer changes, proposed orders, alerts) that the shell journals and publishes. It never
reads the clock and does no I/O: the same inputs give the same decisions with the same
ids. A decision id is ``orders.decision_id(session date, kind, layer, intent, n)`` where
``n`` counts the decisions of that session, so a restart that re-derives a day from the
last snapshot produces the same ids and the journal de-duplicates them.

At each session close (SPEC §4 "the target state is recomputed on every evaluation"):

1. the latest valid prices are committed as the day's closes to the SignalBook (SPX,
   IWM, VIX: the latest price even if not quoted today; RVX, VIX3M, VX1: only when quoted
   for this session) and the SPEC §3 readings are evaluated;
2. replay/sim only (no broker condor): the template condor is opened when none is held
   or the held one has ``roll_at_dte`` days or fewer left (the old one is closed; the
   hedges are re-sized to the new condor at the next rebalance);
3. the SPEC §5 scenario (:mod:`daemon.core.scenario`, VX1/VX2 quotes with their expiry
   form the VX curve) gives the projected loss L and the condor vega;
4. the ladder (:mod:`daemon.core.ladder`) is stepped; every transition gives a
   LayerChange and an Alert (reasons + exit rule); deactivations propose a CLOSE of the
   layer's hedge, then activations an OPEN sized by the scenario;
5. a held hedge with fewer than ``roll_dte`` calendar days left is rolled (one ROLL
   proposal with two legs per unit: close the old option, open the layer's instrument at
   its next expiry; when the cap allows fewer new units, the rest is sold first); a hedge
   found past its expiry is dropped with a ``roll`` alert;
6. every ``rebalance_every_days`` sessions since the last rebalance, or at once on
   ``big_move`` (SPX or IWM vs. their prices at the last rebalance), every active layer is
   re-sized: RESIZE for the difference of the held option, nothing if
   |target − held| <= ``rebalance_band_frac`` × held (the no-trade band: operational, not
   in the SPEC, which only says "re-sized every 5 trading days"; it implements the
   SPEC's "no emotional resizing" [003, 004]; activations, deactivations, rolls and
   cost-cap sell-downs ignore it). A held option whose DTE is below its layer's instrument
   rule (L1/L3: ``l1_min_dte``; L2: ``l2_min_dte``) is never added to: when the target
   asks for more it is rolled into the layer's current instrument, sized to the target on
   that instrument (selling down in the old option is fine). A held option worth less
   than one tick is re-struck (sold, and the current instrument bought);
7. the **cost cap**: open premium ≤ ``cost_cap_frac`` × condor credit. Every buy is
   scaled down to fit (``is_capped``, plus a ``cost_cap`` alert that comes before the
   proposals and reports the units wanted and exactly the units they buy); if the cap
   itself shrinks (a new condor with less credit) hedges are sold down, L3 first, so the
   cap holds after every close.

Intraday, :meth:`Engine.evaluate` treats the latest prices as a provisional close:
``big_move`` re-sizes at once; layers change only with ``ladder.intraday_confirm``.

Sizing (SPEC §5.6, our reading of SPEC §4 "Size"):

* L1: target scenario gain ``l1_cover_frac × L``; VIX-delta target
  ``l1_vega_multiplier × |condor vega|`` in USD per VIX point.
* L2: cumulative targets ``l2_cover_frac × L`` and ``l2_vega_multiplier × |condor vega|``
  minus what the held L1 hedge already provides (never below 0).
* L3: ``l3_notional_add_frac`` × the scenario gain of the held L1 + L2 hedges (of L when
  none is held), as VIX call spreads; no vega target.

Sleeve accounting (SPEC §4 "Second Engine sleeve"): one hedge position per layer.
``premium_paid_usd`` of a held hedge is the premium paid for what is still held (a partial
sale removes its pro-rata share; a roll books the new option at its own price);
``open_premium_usd`` is their sum (the cost-cap measure); ``premium_paid_to_date_usd``
accumulates every buy. With ``assume_fills`` (replay/sim) a proposal updates the sleeve
at once at its limit price; otherwise only :meth:`Engine.on_fill` does, pending buys count
against the cap until then, and unfilled proposals expire at the next close (TIF DAY).
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from daemon.core import ladder as ladder_mod
from daemon.core import orders
from daemon.core.ladder import LadderState, Transition
from daemon.core.model import (
    REQUIRED_SYMBOLS,
    Action,
    Alert,
    AlertKind,
    Bar,
    DaySummary,
    Decision,
    Fill,
    HedgePosition,
    IronCondor,
    Layer,
    LayerChange,
    OptionLeg,
    OrderIntent,
    ProposedOrder,
    Quote,
    Rejected,
    Right,
    Satellite,
    ScenarioResult,
    Severity,
    SignalReading,
    Symbol,
)
from daemon.core.params import EngineParams
from daemon.core.quality import check_quote
from daemon.core.scenario import (
    CondorRisk,
    HedgeUnit,
    MarketState,
    condor_risk,
    hedge_unit,
    l1_legs,
    l2_legs,
    l3_legs,
    open_template_condor,
    size_layer,
)
from daemon.core.signals import SignalBook, SignalSnapshot
from daemon.errors import InvariantViolation

__all__ = ["SNAPSHOT_VERSION", "Engine"]

SNAPSHOT_VERSION = 1
"""Version of the :meth:`Engine.snapshot` JSON layout; :meth:`Engine.restore` refuses others."""

_SIGNAL_SYMBOLS: tuple[Symbol, ...] = (
    Symbol.SPX,
    Symbol.IWM,
    Symbol.VIX,
    Symbol.RVX,
    Symbol.VIX3M,
    Symbol.VX1,
)
"""Series committed to the SignalBook at a close (VX2 only feeds the VX curve)."""

_OPTIONAL_SIGNAL_SYMBOLS: tuple[Symbol, ...] = (Symbol.RVX, Symbol.VIX3M, Symbol.VX1)

_LAYERS: tuple[Layer, ...] = (Layer.L1, Layer.L2, Layer.L3)

_EPS_USD = 1e-6
"""Tolerance on USD comparisons (cost cap)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Pending:
    """A proposal awaiting its fill (broker mode), keyed by ``order_ref``.

    ``new_leg_price`` is the per-share price of the opening legs of a ROLL (the premium the
    new position is booked at); for other intents it equals ``limit_price``.
    """

    layer: Layer
    intent: OrderIntent
    legs: tuple[OptionLeg, ...]
    open_legs: tuple[OptionLeg, ...]
    action: Action
    contracts: int
    limit_price: float
    new_leg_price: float
    session_date: date


@dataclass(slots=True)
class _DayCtx:
    """Scratch of one evaluation (close or provisional); never escapes the engine."""

    session_date: date
    now: datetime
    session_index: int
    snapshot: SignalSnapshot
    state: MarketState | None = None
    risk: CondorRisk | None = None
    is_capped: bool = False
    proposals: int = 0


def _round_usd(x: float) -> float:
    """USD rounded to the cent (stable text in notes and snapshots)."""
    return round(x, 2)


def _leg_text(legs: Sequence[OptionLeg]) -> str:
    """Short text of option legs.

    ``VIX 2020-03-18 22C`` (one leg), ``VIX 2020-03-18 +22C/-27C`` (a spread),
    ``VIX -2020-03-18 22C +2020-04-15 24C`` (legs of different expiries: a roll).
    """
    if not legs:
        return "-"
    first = legs[0]

    def sign(leg: OptionLeg) -> str:
        return "+" if leg.position_qty > 0 else "-"

    def strike(leg: OptionLeg) -> str:
        return f"{orders.format_strike(leg.strike)}{leg.right.value}"

    if any(leg.expiry != first.expiry for leg in legs):
        body = " ".join(f"{sign(leg)}{leg.expiry.isoformat()} {strike(leg)}" for leg in legs)
        return f"{first.trading_class} {body}"
    if len(legs) == 1:
        return f"{first.trading_class} {first.expiry.isoformat()} {strike(first)}"
    body = "/".join(f"{sign(leg)}{strike(leg)}" for leg in legs)
    return f"{first.trading_class} {first.expiry.isoformat()} {body}"


# --------------------------------------------------------------------------- (de)serialisation


def _leg_to_dict(leg: OptionLeg) -> dict[str, Any]:
    return {
        "right": leg.right.value,
        "strike": leg.strike,
        "expiry": leg.expiry.isoformat(),
        "position_qty": leg.position_qty,
        "multiplier": leg.multiplier,
        "trading_class": leg.trading_class,
    }


def _leg_from_dict(d: Mapping[str, Any]) -> OptionLeg:
    return OptionLeg(
        right=Right(d["right"]),
        strike=float(d["strike"]),
        expiry=date.fromisoformat(d["expiry"]),
        position_qty=int(d["position_qty"]),
        multiplier=int(d["multiplier"]),
        trading_class=str(d["trading_class"]),
    )


def _hedge_to_dict(h: HedgePosition) -> dict[str, Any]:
    return {
        "layer": h.layer.value,
        "legs": [_leg_to_dict(leg) for leg in h.legs],
        "contracts": h.contracts,
        "premium_paid_usd": h.premium_paid_usd,
        "order_ref": h.order_ref,
        "opened_on": h.opened_on.isoformat(),
    }


def _hedge_from_dict(d: Mapping[str, Any]) -> HedgePosition:
    return HedgePosition(
        layer=Layer(d["layer"]),
        legs=tuple(_leg_from_dict(x) for x in d["legs"]),
        contracts=int(d["contracts"]),
        premium_paid_usd=float(d["premium_paid_usd"]),
        order_ref=str(d["order_ref"]),
        opened_on=date.fromisoformat(d["opened_on"]),
    )


def _condor_to_dict(c: IronCondor) -> dict[str, Any]:
    return {
        "short_put_strike": c.short_put_strike,
        "long_put_strike": c.long_put_strike,
        "short_call_strike": c.short_call_strike,
        "long_call_strike": c.long_call_strike,
        "expiry": c.expiry.isoformat(),
        "contracts": c.contracts,
        "net_credit": c.net_credit,
        "multiplier": c.multiplier,
        "trading_class": c.trading_class,
        "opened_on": None if c.opened_on is None else c.opened_on.isoformat(),
    }


def _condor_from_dict(d: Mapping[str, Any]) -> IronCondor:
    opened = d["opened_on"]
    return IronCondor(
        short_put_strike=float(d["short_put_strike"]),
        long_put_strike=float(d["long_put_strike"]),
        short_call_strike=float(d["short_call_strike"]),
        long_call_strike=float(d["long_call_strike"]),
        expiry=date.fromisoformat(d["expiry"]),
        contracts=int(d["contracts"]),
        net_credit=float(d["net_credit"]),
        multiplier=int(d["multiplier"]),
        trading_class=str(d["trading_class"]),
        opened_on=None if opened is None else date.fromisoformat(opened),
    )


def _pending_to_dict(p: _Pending) -> dict[str, Any]:
    return {
        "layer": p.layer.value,
        "intent": p.intent.value,
        "legs": [_leg_to_dict(x) for x in p.legs],
        "open_legs": [_leg_to_dict(x) for x in p.open_legs],
        "action": p.action.value,
        "contracts": p.contracts,
        "limit_price": p.limit_price,
        "new_leg_price": p.new_leg_price,
        "session_date": p.session_date.isoformat(),
    }


def _pending_from_dict(d: Mapping[str, Any]) -> _Pending:
    return _Pending(
        layer=Layer(d["layer"]),
        intent=OrderIntent(d["intent"]),
        legs=tuple(_leg_from_dict(x) for x in d["legs"]),
        open_legs=tuple(_leg_from_dict(x) for x in d["open_legs"]),
        action=Action(d["action"]),
        contracts=int(d["contracts"]),
        limit_price=float(d["limit_price"]),
        new_leg_price=float(d["new_leg_price"]),
        session_date=date.fromisoformat(d["session_date"]),
    )


# --------------------------------------------------------------------------- engine


class Engine:
    """Quotes and closes in, SPEC §4–§6 decisions out; deterministic and restartable.

    Args:
        params: the frozen parameter tree (SPEC defaults).
        sessions: sorted XNYS trading days covering the run (minimum holds and the
            rebalance cadence count positions in this list; ``event_window`` uses it).
        condor: the held iron condor (broker mode). ``None`` → replay/sim: the engine
            opens and rolls the template condor itself.
        satellite: the IWM satellite. ``None`` in replay/sim → IWM of
            ``params.satellite_notional_usd`` (none when that is 0).
        assume_fills: True (replay/sim): each proposal fills at its limit at once.
            False (broker): only :meth:`on_fill` changes the sleeve.
    """

    def __init__(
        self,
        params: EngineParams,
        *,
        sessions: Sequence[date],
        condor: IronCondor | None = None,
        satellite: Satellite | None = None,
        assume_fills: bool = True,
    ) -> None:
        self._params = params
        self._sessions: tuple[date, ...] = tuple(sorted(set(sessions)))
        self._session_pos: dict[date, int] = {d: i for i, d in enumerate(self._sessions)}
        self._book = SignalBook(
            params.signals, params.scenario, params.macro_events, self._sessions
        )
        self._is_template = condor is None
        self._condor: IronCondor | None = condor
        if satellite is None and self._is_template and params.satellite_notional_usd > 0.0:
            satellite = Satellite(symbol=Symbol.IWM, notional_usd=params.satellite_notional_usd)
        self._satellite: Satellite | None = satellite
        self._assume_fills = assume_fills
        self._ladder = LadderState()
        self._hedges: dict[Layer, HedgePosition] = {}
        self._pending: dict[str, _Pending] = {}
        self._premium_to_date_usd = 0.0
        self._rejected = 0
        self._price: dict[Symbol, float] = {}
        self._price_ts: dict[Symbol, datetime] = {}
        self._price_day: dict[Symbol, date] = {}
        self._vx_expiry: dict[Symbol, date] = {}
        self._last_rebalance_index: int | None = None
        self._rebalance_ref: dict[Symbol, float] | None = None
        self._seq_day: date | None = None
        self._seq = 0
        self._days: list[DaySummary] = []
        self._days_count = 0
        self._stale: set[Symbol] = set()
        self._watch_since: datetime | None = None
        self._calendar_warned_on: date | None = None
        self._last_snapshot: SignalSnapshot | None = None
        self._counts_day: date | None = None
        self._day_proposals = 0
        self._day_capped = False

    # ------------------------------------------------------------------ properties

    @property
    def last_day(self) -> DaySummary | None:
        """The summary of the last session close (None before the first)."""
        return self._days[-1] if self._days else None

    @property
    def days(self) -> Sequence[DaySummary]:
        """Summaries of the closes processed by this instance (not restored by a snapshot)."""
        return self._days

    @property
    def hedges(self) -> tuple[HedgePosition, ...]:
        """Held hedge positions, in layer order (the Second Engine sleeve)."""
        return tuple(self._hedges[layer] for layer in _LAYERS if layer in self._hedges)

    @property
    def active_layers(self) -> tuple[Layer, ...]:
        """Active ladder layers, L1..L3 order."""
        return self._ladder.active_layers

    @property
    def condor(self) -> IronCondor | None:
        """The condor being hedged (template condor in replay/sim)."""
        return self._condor

    @property
    def rejected_count(self) -> int:
        """Quotes refused by :func:`daemon.core.quality.check_quote` so far."""
        return self._rejected

    @property
    def premium_paid_to_date_usd(self) -> float:
        """Premium paid for every hedge bought since the start, USD."""
        return self._premium_to_date_usd

    @property
    def open_premium_usd(self) -> float:
        """Premium paid for the hedges still held, USD (the cost-cap measure)."""
        return sum(h.premium_paid_usd for h in self._hedges.values())

    @property
    def cost_cap_usd(self) -> float:
        """The cap on open premium: ``cost_cap_frac`` × condor credit, USD (0 without condor)."""
        if self._condor is None:
            return 0.0
        return self._params.ladder.cost_cap_frac * self._condor.credit_usd

    def latest_snapshot(self) -> SignalSnapshot | None:
        """The signal snapshot of the last full evaluation.

        That is the last close, or the last provisional evaluation that built a snapshot
        (a big move, or any tick with ``intraday_confirm`` on); routine ticks do not.
        """
        return self._last_snapshot

    # ------------------------------------------------------------------ inputs

    def warm_up(self, bars: Mapping[Symbol, Sequence[Bar]]) -> None:
        """Seed the indicators from daily history (SPEC §2: at least 200 sessions).

        Args:
            bars: daily bars per symbol, oldest first, all before the first live session.
        """
        self._book.warm_up(bars)
        for symbol, series in bars.items():
            if series:
                last = series[-1]
                self._price[symbol] = last.close
                self._price_day[symbol] = last.session_date
                if last.expiry is not None:
                    self._vx_expiry[symbol] = last.expiry

    def on_quote(self, quote: Quote) -> Rejected | None:
        """Validate and store one quote (O(1), no decisions).

        Args:
            quote: the observation.

        Returns:
            ``Rejected`` (also counted in :attr:`rejected_count`) for a bad quote, else None.
        """
        bad = check_quote(quote)
        if bad is not None:
            self._rejected += 1
            return bad
        symbol = quote.symbol
        self._price[symbol] = quote.price
        self._price_ts[symbol] = quote.ts
        self._price_day[symbol] = quote.session_date
        if quote.expiry is not None:
            self._vx_expiry[symbol] = quote.expiry
        if self._stale:
            self._stale.discard(symbol)
        return None

    # ------------------------------------------------------------------ helpers

    def _index_of(self, day: date) -> int:
        """Trading-session index of ``day``: its position in ``sessions``.

        A day missing from ``sessions`` (a too-short session list) counts as the session
        after the last close, so minimum holds and cadences still advance.
        """
        pos = self._session_pos.get(day)
        if pos is not None:
            return pos
        last = self._ladder.last_close_index
        if last is not None:
            return last + 1
        return bisect.bisect_left(self._sessions, day)

    def _next_id(self, day: date, *parts: object) -> str:
        """Deterministic decision id: session date, kind/layer/intent parts, per-day seq."""
        if self._seq_day != day:
            self._seq_day = day
            self._seq = 0
        seq = self._seq
        self._seq += 1
        return orders.decision_id(day.isoformat(), *parts, seq)

    def _market_state(self, day: date, snap: SignalSnapshot) -> MarketState | None:
        """SPEC §5 market state from the latest prices, or None if a required one is missing."""
        price = self._price
        if any(s not in price for s in REQUIRED_SYMBOLS):
            return None
        curve: list[tuple[date, float]] = []
        for sym in (Symbol.VX1, Symbol.VX2):
            exp = self._vx_expiry.get(sym)
            px = price.get(sym)
            if exp is not None and px is not None and exp > day:
                curve.append((exp, px))
        curve.sort()
        betas = [b for b in (snap.beta_iwm_spx_30d, snap.beta_iwm_spx_90d) if b is not None]
        return MarketState(
            session_date=day,
            spx=price[Symbol.SPX],
            iwm=price[Symbol.IWM],
            vix=price[Symbol.VIX],
            vx_curve=tuple(curve),
            spx_pct_per_vix_pt=snap.spx_pct_per_vix_pt,
            beta_iwm_spx=max(betas) if betas else None,
        )

    def _satellite_usd(self) -> float:
        return 0.0 if self._satellite is None else self._satellite.notional_usd

    @staticmethod
    def _vega_in_vix_pts(risk: CondorRisk) -> float:
        """|Condor vega| in USD per VIX point (SPEC §5.6 vega check base)."""
        return abs(risk.condor_vega_usd_per_vix_pt)

    def _legs_for(self, layer: Layer, state: MarketState) -> tuple[OptionLeg, ...]:
        p = self._params
        if layer is Layer.L1:
            return l1_legs(state, p.ladder, p.scenario, p.orders)
        if layer is Layer.L2:
            return l2_legs(state, p.ladder, p.scenario, p.orders)
        return l3_legs(state, p.ladder, p.scenario, p.orders)

    def _unit(self, legs: tuple[OptionLeg, ...], ctx: _DayCtx) -> HedgeUnit:
        assert ctx.state is not None  # noqa: S101 - set before any sizing
        return hedge_unit(legs, ctx.state, self._params.scenario)

    def _held_gain_and_delta(self, layers: Sequence[Layer], ctx: _DayCtx) -> tuple[float, float]:
        """Scenario gain (USD) and VIX delta (USD/pt) of the hedges held for ``layers``."""
        gain = 0.0
        delta = 0.0
        for layer in layers:
            h = self._hedges.get(layer)
            if h is None or h.expiry <= ctx.session_date:
                continue
            unit = self._unit(h.legs, ctx)
            gain += unit.gain_usd * h.contracts
            delta += unit.vix_delta_usd_per_pt * h.contracts
        return gain, delta

    def _target_contracts(self, layer: Layer, unit: HedgeUnit, ctx: _DayCtx) -> int:
        """SPEC §5.6 contracts for ``layer`` before the cost cap."""
        assert ctx.risk is not None  # noqa: S101 - set before any sizing
        lp = self._params.ladder
        loss = ctx.risk.scenario_loss_usd
        vega = self._vega_in_vix_pts(ctx.risk)
        if layer is Layer.L1:
            gain_t, vega_t = lp.l1_cover_frac * loss, lp.l1_vega_multiplier * vega
        elif layer is Layer.L2:
            g1, d1 = self._held_gain_and_delta((Layer.L1,), ctx)
            gain_t = max(0.0, lp.l2_cover_frac * loss - g1)
            vega_t = max(0.0, lp.l2_vega_multiplier * vega - d1)
        else:
            g12, _ = self._held_gain_and_delta((Layer.L1, Layer.L2), ctx)
            base = g12 if g12 > 0.0 else loss
            gain_t, vega_t = lp.l3_notional_add_frac * base, 0.0
        # An option with no scenario gain / VIX delta left (e.g. out of the money on its
        # expiry day) cannot meet a target: that term is dropped instead of failing.
        if not unit.gain_usd > 0.0:
            gain_t = 0.0
        if not unit.vix_delta_usd_per_pt > 0.0:
            vega_t = 0.0
        if gain_t <= 0.0 and vega_t <= 0.0:
            return 0
        return size_layer(target_gain_usd=gain_t, vega_target_usd_per_pt=vega_t, unit=unit)

    def _scenario_result(
        self, unit: HedgeUnit, contracts_after: int, ctx: _DayCtx
    ) -> ScenarioResult | None:
        risk = ctx.risk
        if risk is None:
            return None
        sp = self._params.scenario
        loss = risk.scenario_loss_usd
        gain = unit.gain_usd * contracts_after
        return ScenarioResult(
            vix_shock_pts=sp.vix_shock_pts,
            spx_move_pct=risk.spx_move_pct,
            iwm_move_pct=risk.iwm_move_pct,
            vx_future_move_pts=sp.vx_beta_to_spot * sp.vix_shock_pts,
            scenario_loss_usd=loss,
            gain_per_contract_usd=unit.gain_usd,
            cover_frac=gain / loss if loss > 0.0 else 0.0,
            hedge_vix_delta_usd_per_pt=unit.vix_delta_usd_per_pt * contracts_after,
            condor_vega_usd_per_pt=abs(risk.condor_vega_usd_per_pt),
        )

    def _pending_buys_usd(self) -> float:
        """Premium of OPEN/RESIZE buys proposed but not yet filled (broker mode), USD."""
        if not self._pending:
            return 0.0
        return sum(
            p.limit_price * p.legs[0].multiplier * p.contracts
            for p in self._pending.values()
            if p.action is Action.BUY and p.intent is not OrderIntent.ROLL
        )

    def _cap_room_usd(self) -> float:
        """Premium still allowed under the cost cap (held + pending buys count), USD."""
        used = self.open_premium_usd + self._pending_buys_usd()
        return max(0.0, self.cost_cap_usd - used)

    def _begin(self, ctx: _DayCtx) -> None:
        """Carry the day's proposal count and cap flag into ``ctx`` (intraday + close)."""
        if self._counts_day != ctx.session_date:
            self._counts_day = ctx.session_date
            self._day_proposals = 0
            self._day_capped = False
        ctx.proposals = self._day_proposals
        ctx.is_capped = self._day_capped

    def _end(self, ctx: _DayCtx) -> None:
        self._day_proposals = ctx.proposals
        self._day_capped = ctx.is_capped

    # ------------------------------------------------------------------ sleeve updates

    def _apply(self, ref: str, p: _Pending, contracts: int, price: float) -> None:
        """Book ``contracts`` of the proposal ``p`` into the sleeve at ``price`` per unit."""
        mult = p.legs[0].multiplier
        held = self._hedges.get(p.layer)
        if p.intent is OrderIntent.ROLL:
            new_price = p.new_leg_price + (price - p.limit_price) * (
                1.0 if p.action is Action.BUY else -1.0
            )
            new_price = max(new_price, 0.0)
            cost = new_price * mult * contracts
            self._premium_to_date_usd += cost
            if held is not None and held.legs == p.open_legs:  # a second partial fill
                self._hedges[p.layer] = replace(
                    held,
                    contracts=held.contracts + contracts,
                    premium_paid_usd=held.premium_paid_usd + cost,
                )
                return
            self._hedges[p.layer] = HedgePosition(
                layer=p.layer,
                legs=p.open_legs,
                contracts=contracts,
                premium_paid_usd=cost,
                order_ref=ref,
                opened_on=p.session_date,
            )
            return
        if p.action is Action.BUY:
            cost = price * mult * contracts
            self._premium_to_date_usd += cost
            if held is not None and held.legs == p.legs:
                self._hedges[p.layer] = replace(
                    held,
                    contracts=held.contracts + contracts,
                    premium_paid_usd=held.premium_paid_usd + cost,
                )
            else:
                self._hedges[p.layer] = HedgePosition(
                    layer=p.layer,
                    legs=p.legs,
                    contracts=contracts,
                    premium_paid_usd=cost,
                    order_ref=ref,
                    opened_on=p.session_date,
                )
            return
        if held is not None and held.legs == p.legs:
            self._reduce(p.layer, contracts, held)

    def _reduce(self, layer: Layer, contracts: int, held: HedgePosition) -> None:
        """Sell ``contracts`` of the held hedge: its premium shrinks pro rata."""
        left = held.contracts - contracts
        if left <= 0:
            del self._hedges[layer]
            return
        self._hedges[layer] = replace(
            held,
            contracts=left,
            premium_paid_usd=held.premium_paid_usd * left / held.contracts,
        )

    # ------------------------------------------------------------------ proposals

    def _propose(
        self,
        ctx: _DayCtx,
        *,
        layer: Layer,
        intent: OrderIntent,
        legs: tuple[OptionLeg, ...],
        action: Action,
        contracts: int,
        mid: float,
        reasons: tuple[SignalReading, ...],
        scenario: ScenarioResult | None,
        break_evens: tuple[float, ...],
        is_capped: bool,
        open_legs: tuple[OptionLeg, ...] = (),
        new_leg_mid: float | None = None,
        why: str = "",
    ) -> ProposedOrder:
        """Build one ProposedOrder (limit at mid ± offset on the tick) and book it."""
        op = self._params.orders
        limit = orders.limit_price(max(mid, op.min_tick_below_3), op, action=action)
        did = self._next_id(ctx.session_date, "order", layer.value, intent.value)
        ref_leg = open_legs[0] if open_legs else legs[0]
        ref = orders.order_ref(
            layer=layer,
            intent=intent,
            expiry=ref_leg.expiry,
            strike=ref_leg.strike,
            decision_id=did,
        )
        mult = legs[0].multiplier
        cost = limit * mult * contracts
        verb = "buy" if action is Action.BUY else "sell"
        note = (
            f"{layer.value} {intent.value}: {verb} {contracts} {_leg_text(legs)} @ {limit:.2f}"
            f" (${_round_usd(cost):,.2f})"
        )
        if is_capped:
            note += " [cost-capped]"
        if why:
            note += f"; {why}"
        order = ProposedOrder(
            decision_id=did,
            ts=ctx.now,
            session_date=ctx.session_date,
            layer=layer,
            intent=intent,
            legs=legs,
            action=action,
            contracts=contracts,
            limit_price=limit,
            order_ref=ref,
            tif=op.tif,
            cost_usd=cost,
            is_capped=is_capped,
            reasons=reasons,
            scenario=scenario,
            break_evens=break_evens,
            note=note,
        )
        new_leg_price = limit if new_leg_mid is None else new_leg_mid
        pending = _Pending(
            layer=layer,
            intent=intent,
            legs=legs,
            open_legs=open_legs or legs,
            action=action,
            contracts=contracts,
            limit_price=limit,
            new_leg_price=new_leg_price,
            session_date=ctx.session_date,
        )
        ctx.proposals += 1
        if self._assume_fills:
            self._apply(ref, pending, contracts, limit)
        else:
            self._pending[ref] = pending
        return order

    def _cap_alert(
        self,
        ctx: _DayCtx,
        *,
        layer: Layer,
        intent: OrderIntent,
        wanted: int,
        got: int,
        unit_usd: float,
        what: str,
        outcome: str = "",
        why: str = "",
        reasons: tuple[SignalReading, ...],
    ) -> Alert:
        """The SPEC §4 cost-cap alert: a target was scaled down (and by how much).

        The alert names exactly what is proposed with it, so the operator never sees two
        different counts: ``got`` is the number of units the accompanying proposals buy
        (for a roll: the units opened at the new expiry), and those proposals carry
        ``is_capped``.

        Args:
            ctx: the evaluation.
            layer: the layer.
            intent: intent of the scaled-down proposal (``resize``, ``open``, ``roll``).
            wanted: units the target asked for (before the cap).
            got: units proposed (after the cap; 0 = nothing is bought).
            unit_usd: premium of one wanted unit at its limit, USD.
            what: the instrument wanted (``"VIX 2020-03-18 22C"``).
            outcome: optional text on what is done (``" (263 sold, 90 rolled; 353 held)"``).
            why: optional sizing context (``"target 353 (held 42)"``), appended.
            reasons: the readings behind the proposal.

        Returns:
            The ``cost_cap`` warning alert.
        """
        ctx.is_capped = True
        cap = self.cost_cap_usd
        msg = (
            f"{layer.value} {intent.value}: {wanted} x {what} wanted "
            f"(${_round_usd(wanted * unit_usd):,.2f}), scaled down to {got} by the cost cap"
            f"{outcome}: open premium ${_round_usd(self.open_premium_usd):,.2f} of cap "
            f"${_round_usd(cap):,.2f} ({self._params.ladder.cost_cap_frac * 100:g}% of "
            "condor credit)"
        )
        if why:
            msg += f"; {why}"
        return Alert(
            decision_id=self._next_id(ctx.session_date, "alert", "cost_cap", layer.value),
            ts=ctx.now,
            kind=AlertKind.COST_CAP,
            severity=Severity.WARNING,
            key=f"cost_cap:{layer.value}",
            message=msg,
            layer=layer,
            reasons=reasons,
        )

    def _buy(
        self,
        ctx: _DayCtx,
        *,
        layer: Layer,
        intent: OrderIntent,
        legs: tuple[OptionLeg, ...],
        unit: HedgeUnit,
        contracts: int,
        contracts_after_if_full: int,
        reasons: tuple[SignalReading, ...],
        why: str,
    ) -> list[Decision]:
        """Propose buying ``contracts`` units, scaled down to the cost cap (SPEC §4).

        When the cap bites, the ``cost_cap`` alert comes first and reports the units
        wanted and the units actually proposed (the order's ``contracts``, ``is_capped``).
        """
        if contracts <= 0 or unit.price <= 0.0 or not math.isfinite(unit.price):
            return []
        op = self._params.orders
        limit = orders.limit_price(max(unit.price, op.min_tick_below_3), op, action=Action.BUY)
        unit_usd = limit * legs[0].multiplier
        room = self._cap_room_usd()
        out: list[Decision] = []
        n = contracts
        capped = False
        if unit_usd * n > room + _EPS_USD:
            n = max(0, math.floor((room + _EPS_USD) / unit_usd))
            capped = True
            out.append(
                self._cap_alert(
                    ctx,
                    layer=layer,
                    intent=intent,
                    wanted=contracts,
                    got=n,
                    unit_usd=unit_usd,
                    what=_leg_text(legs),
                    why=why,
                    reasons=reasons,
                )
            )
        if n <= 0:
            return out
        after = contracts_after_if_full - (contracts - n)
        out.append(
            self._propose(
                ctx,
                layer=layer,
                intent=intent,
                legs=legs,
                action=Action.BUY,
                contracts=n,
                mid=unit.price,
                reasons=reasons,
                scenario=self._scenario_result(unit, after, ctx),
                break_evens=unit.break_evens,
                is_capped=capped,
                why=f"{contracts} wanted, {why}" if capped else why,
            )
        )
        return out

    def _sell(
        self,
        ctx: _DayCtx,
        *,
        layer: Layer,
        intent: OrderIntent,
        contracts: int,
        reasons: tuple[SignalReading, ...],
        is_capped: bool = False,
        why: str = "",
    ) -> list[Decision]:
        """Propose selling ``contracts`` units of the held hedge of ``layer``."""
        held = self._hedges.get(layer)
        if held is None or contracts <= 0:
            return []
        n = min(contracts, held.contracts)
        mid = 0.0
        scen: ScenarioResult | None = None
        bes: tuple[float, ...] = ()
        if ctx.state is not None and held.expiry > ctx.session_date:
            unit = self._unit(held.legs, ctx)
            mid = unit.price
            scen = self._scenario_result(unit, held.contracts - n, ctx)
            bes = unit.break_evens
        return [
            self._propose(
                ctx,
                layer=layer,
                intent=intent,
                legs=held.legs,
                action=Action.SELL,
                contracts=n,
                mid=mid,
                reasons=reasons,
                scenario=scen,
                break_evens=bes,
                is_capped=is_capped,
                why=why,
            )
        ]

    # ------------------------------------------------------------------ ladder changes

    def _layer_decisions(self, ctx: _DayCtx, tr: Transition) -> list[Decision]:
        """LayerChange + Alert for one transition (SPEC §4 exit protocol)."""
        kind = "on" if tr.is_active else "off"
        change = LayerChange(
            decision_id=self._next_id(ctx.session_date, "layer", tr.layer.value, kind),
            ts=ctx.now,
            session_date=ctx.session_date,
            layer=tr.layer,
            is_active=tr.is_active,
            reasons=tr.reasons,
            exit_rule=tr.exit_rule,
        )
        alert = Alert(
            decision_id=self._next_id(ctx.session_date, "alert", "layer", tr.layer.value, kind),
            ts=ctx.now,
            kind=AlertKind.LAYER_ACTIVATED if tr.is_active else AlertKind.LAYER_DEACTIVATED,
            severity=Severity.WARNING if tr.is_active else Severity.INFO,
            key=f"layer:{tr.layer.value}",
            message=tr.message + (f". Exit rule: {tr.exit_rule}" if tr.is_active else ""),
            layer=tr.layer,
            reasons=tr.reasons,
            exit_rule=tr.exit_rule,
        )
        return [change, alert]

    def _open_layer(
        self, ctx: _DayCtx, layer: Layer, reasons: tuple[SignalReading, ...], intent: OrderIntent
    ) -> list[Decision]:
        """Size the layer's instrument with the scenario and propose buying it."""
        if ctx.state is None or ctx.risk is None:
            return []
        legs = self._legs_for(layer, ctx.state)
        unit = self._unit(legs, ctx)
        target = self._target_contracts(layer, unit, ctx)
        why = f"target {target} by the +{self._params.scenario.vix_shock_pts:g} VIX-pt scenario"
        return self._buy(
            ctx,
            layer=layer,
            intent=intent,
            legs=legs,
            unit=unit,
            contracts=target,
            contracts_after_if_full=target,
            reasons=reasons,
            why=why,
        )

    def _apply_transitions(
        self, ctx: _DayCtx, transitions: Sequence[Transition]
    ) -> tuple[list[Decision], set[Layer]]:
        """Decisions for the ladder's transitions: deactivations first (free the cap)."""
        out: list[Decision] = []
        changed: set[Layer] = set()
        for tr in transitions:
            out.extend(self._layer_decisions(ctx, tr))
            changed.add(tr.layer)
        for tr in transitions:
            if not tr.is_active:
                held = self._hedges.get(tr.layer)
                if held is not None:
                    out.extend(
                        self._sell(
                            ctx,
                            layer=tr.layer,
                            intent=OrderIntent.CLOSE,
                            contracts=held.contracts,
                            reasons=tr.reasons,
                            why=tr.message,
                        )
                    )
        for tr in transitions:
            if tr.is_active:
                # Normally nothing is held for a layer that was off; a broker position
                # (set_positions) is re-sized instead of replaced.
                out.extend(self._size_layer(ctx, tr.layer, tr.reasons, OrderIntent.OPEN))
        return out, changed

    # ------------------------------------------------------------------ rolls / rebalance

    def _rolls(self, ctx: _DayCtx, skip: set[Layer]) -> list[Decision]:
        """SPEC §4 Time-Shifting: one ROLL (close + open) for hedges near expiry."""
        out: list[Decision] = []
        state = ctx.state
        if state is None:
            return out
        roll_dte = self._params.ladder.roll_dte
        for layer in _LAYERS:
            held = self._hedges.get(layer)
            if held is None or layer in skip:
                continue
            dte = (held.expiry - ctx.session_date).days
            if dte < 0:
                out.append(self._expired(ctx, held))
                continue
            if dte >= roll_dte:
                continue
            reading = SignalReading(
                id="roll_dte",
                value=float(dte),
                threshold=float(roll_dte),
                holds=True,
                detail=f"{layer.value} hedge expires {held.expiry.isoformat()}: {dte} days "
                f"left < {roll_dte}",
            )
            new_legs = self._legs_for(layer, state)
            if new_legs[0].expiry <= held.expiry:
                continue
            out.extend(self._roll_one(ctx, layer, held, new_legs, (reading,), why=reading.detail))
        return out

    def _expired(self, ctx: _DayCtx, held: HedgePosition) -> Alert:
        """Drop a hedge past its expiry from the sleeve (it settled; it was not rolled)."""
        del self._hedges[held.layer]
        return Alert(
            decision_id=self._next_id(ctx.session_date, "alert", "expired", held.layer.value),
            ts=ctx.now,
            kind=AlertKind.ROLL,
            severity=Severity.WARNING,
            key=f"expired:{held.layer.value}",
            message=f"{held.layer.value}: {held.contracts} x {_leg_text(held.legs)} expired "
            "without a roll; removed from the sleeve",
            layer=held.layer,
        )

    def _min_dte(self, layer: Layer) -> int:
        """Shortest DTE the layer's instrument rule allows (SPEC §4), calendar days.

        L1 and L3: the front VIX expiry with DTE >= ``l1_min_dte``; L2: DTE in
        [``l2_min_dte``, ``l2_max_dte``], so ``l2_min_dte``.
        """
        lp = self._params.ladder
        return lp.l2_min_dte if layer is Layer.L2 else lp.l1_min_dte

    def _roll_one(
        self,
        ctx: _DayCtx,
        layer: Layer,
        held: HedgePosition,
        new_legs: tuple[OptionLeg, ...],
        reasons: tuple[SignalReading, ...],
        *,
        why: str,
        target: int | None = None,
    ) -> list[Decision]:
        """Roll the held hedge of ``layer`` into ``new_legs`` (SPEC §4 Time-Shifting).

        ``target`` is the number of new units wanted: ``None`` (the ``roll_dte`` rule)
        keeps the units held; a rebalance roll passes the layer's target sized on the new
        instrument. The cost cap (room = cap − the other layers' open premium − pending
        buys; the held premium is freed by the close) may scale it down to ``n``, and the
        ``cost_cap`` alert then reports ``n`` as the units opened at the new expiry.

        A ROLL proposal closes and opens one for one per unit (the legs of a proposal
        are per-unit ratios), so a size change needs one companion order:

        * ``n < held``: the ``held − n`` old units are sold first (RESIZE; CLOSE when
          ``n == 0``), then ``n`` are rolled;
        * ``n > held``: every held unit is rolled, then ``n − held`` units of the new
          instrument are bought (RESIZE, at the new legs' limit).

        A rebalance roll for which the cap leaves no new unit keeps the held hedge (it
        still protects until the ``roll_dte`` rule rolls or closes it) and only alerts.

        Returns:
            The decisions: optional ``cost_cap`` alert, optional sell, the ROLL, optional
            buy.
        """
        out: list[Decision] = []
        wanted = held.contracts if target is None else target
        if wanted <= 0:
            return out
        new_unit = self._unit(new_legs, ctx)
        old_mid = 0.0
        if held.expiry > ctx.session_date:
            old_mid = self._unit(held.legs, ctx).price
        op = self._params.orders
        mult = new_legs[0].multiplier
        new_limit = orders.limit_price(
            max(new_unit.price, op.min_tick_below_3), op, action=Action.BUY
        )
        unit_usd = new_limit * mult
        others = self.open_premium_usd - held.premium_paid_usd + self._pending_buys_usd()
        room = self.cost_cap_usd - others
        n = wanted
        capped = False
        if unit_usd * n > room + _EPS_USD:
            n = max(0, math.floor((max(room, 0.0) + _EPS_USD) / unit_usd))
            capped = True
        keep = n <= 0 and target is not None
        sold = 0 if keep else max(0, held.contracts - n)
        rolled = min(n, held.contracts)
        bought = max(0, n - held.contracts)
        if capped:
            if keep:
                outcome = f" (the {held.contracts} held are kept until their roll)"
            else:
                done = [
                    f"{k} {verb}"
                    for k, verb in ((sold, "sold"), (rolled, "rolled"), (bought, "bought"))
                    if k
                ]
                outcome = f" ({', '.join(done)}; {held.contracts} held)"
            out.append(
                self._cap_alert(
                    ctx,
                    layer=layer,
                    intent=OrderIntent.ROLL,
                    wanted=wanted,
                    got=n,
                    unit_usd=unit_usd,
                    what=f"{_leg_text(new_legs)} rolled from {_leg_text(held.legs)}",
                    outcome=outcome,
                    reasons=reasons,
                )
            )
        if keep:
            return out
        if sold > 0:
            tail = (
                "the new expiry does not fit the cost cap"
                if capped
                else f"{n} units wanted at the new expiry"
            )
            out.extend(
                self._sell(
                    ctx,
                    layer=layer,
                    intent=OrderIntent.CLOSE if n <= 0 else OrderIntent.RESIZE,
                    contracts=sold,
                    reasons=reasons,
                    is_capped=capped,
                    why=f"{why}; {tail}",
                )
            )
        if rolled <= 0:
            return out
        close_legs = tuple(replace(leg, position_qty=-leg.position_qty) for leg in held.legs)
        net = new_unit.price - old_mid
        action = Action.BUY if net >= 0.0 else Action.SELL
        out.append(
            self._propose(
                ctx,
                layer=layer,
                intent=OrderIntent.ROLL,
                legs=close_legs + new_legs,
                action=action,
                contracts=rolled,
                mid=abs(net),
                reasons=reasons,
                scenario=self._scenario_result(new_unit, rolled, ctx),
                break_evens=new_unit.break_evens,
                is_capped=capped,
                open_legs=new_legs,
                new_leg_mid=new_limit,
                why=f"{wanted} wanted, {why}" if capped else why,
            )
        )
        if bought > 0:
            out.append(
                self._propose(
                    ctx,
                    layer=layer,
                    intent=OrderIntent.RESIZE,
                    legs=new_legs,
                    action=Action.BUY,
                    contracts=bought,
                    mid=new_unit.price,
                    reasons=reasons,
                    scenario=self._scenario_result(new_unit, n, ctx),
                    break_evens=new_unit.break_evens,
                    is_capped=capped,
                    why=(f"{wanted} wanted, " if capped else "")
                    + f"{why}; {rolled} rolled, {bought} more to reach {n}",
                )
            )
        return out

    def _roll_instead_of_adding(
        self,
        ctx: _DayCtx,
        held: HedgePosition,
        reasons: tuple[SignalReading, ...],
        old_target: int,
    ) -> list[Decision]:
        """Roll a hedge below its layer's minimum DTE instead of adding to it (SPEC §4).

        The new units are sized on the layer's current instrument (``l1_legs`` /
        ``l2_legs`` / ``l3_legs``), not on the near-expiry option; the ROLL carries an
        ``instrument_dte`` reading after the rebalance reason. Nothing is proposed when no
        later expiry is quoted or the new instrument needs no unit.

        Args:
            ctx: the evaluation (market state and condor risk set).
            held: the layer's held hedge, with DTE below :meth:`_min_dte`.
            reasons: the rebalance readings (cadence or ``big_move``).
            old_target: the target sized on the held option (> held), for the note.

        Returns:
            The decisions of :meth:`_roll_one`, or ``[]``.
        """
        assert ctx.state is not None  # noqa: S101 - checked by the caller
        layer = held.layer
        new_legs = self._legs_for(layer, ctx.state)
        if new_legs[0].expiry <= held.expiry:
            return []  # no later expiry quoted: never add to the out-of-rule option
        new_target = self._target_contracts(layer, self._unit(new_legs, ctx), ctx)
        dte = (held.expiry - ctx.session_date).days
        min_dte = self._min_dte(layer)
        reading = SignalReading(
            id="instrument_dte",
            value=float(dte),
            threshold=float(min_dte),
            holds=True,
            detail=f"{layer.value} hedge {_leg_text(held.legs)} has {dte} days left < "
            f"{min_dte} (the layer's instrument rule): rolled, not added to",
        )
        return self._roll_one(
            ctx,
            layer,
            held,
            new_legs,
            (*reasons, reading),
            why=f"{reading.detail}; target {new_target} at the new expiry "
            f"({old_target} in the old option, held {held.contracts})",
            target=new_target,
        )

    def _size_layer(
        self,
        ctx: _DayCtx,
        layer: Layer,
        reasons: tuple[SignalReading, ...],
        intent: OrderIntent,
        *,
        is_rebalance: bool = False,
    ) -> list[Decision]:
        """Bring ``layer`` to its scenario target: buy/sell the difference of the held option.

        Nothing held, or the held option worth less than one tick (far out of the money):
        the layer is (re-)struck into its current instrument (sell the old, buy the new).
        With nothing held the buy is an OPEN whatever the trigger (e.g. a rebalance of an
        active layer whose activation bought nothing because the cap or the lower layers
        already covered its target).

        A held option whose DTE is below the layer's instrument rule (:meth:`_min_dte`)
        is never added to: sizing a near-expiry, far out-of-the-money call by its scenario
        gain and delta explodes the count for options about to be rolled anyway. When the
        target asks for more, the hedge is rolled instead into the layer's current
        instrument, sized to the target on that instrument (:meth:`_roll_one`). Selling
        down in the old option is fine.

        With ``is_rebalance`` (cadence or ``big_move``), the layer changes only when
        |target − held| > ``ladder.rebalance_band_frac`` × held (the no-trade band:
        operational, not in the SPEC, which only says "re-sized every 5 trading days";
        it implements its "no emotional resizing" spirit [003, 004]). Activations,
        re-strikes and rolls ignore the band.
        """
        if ctx.state is None or ctx.risk is None:
            return []
        out: list[Decision] = []
        held = self._hedges.get(layer)
        unit = None if held is None else self._unit(held.legs, ctx)
        if held is None or unit is None or unit.price < self._params.orders.min_tick_below_3:
            if held is not None:
                out.extend(
                    self._sell(
                        ctx,
                        layer=layer,
                        intent=OrderIntent.RESIZE,
                        contracts=held.contracts,
                        reasons=reasons,
                        why="held option worth less than one tick: re-strike",
                    )
                )
            # Nothing held: whatever the trigger, the order opens the layer's position.
            opening = intent if held is not None else OrderIntent.OPEN
            out.extend(self._open_layer(ctx, layer, reasons, opening))
            return out
        target = self._target_contracts(layer, unit, ctx)
        diff = target - held.contracts
        band = self._params.ladder.rebalance_band_frac
        if diff == 0 or (is_rebalance and abs(diff) <= band * held.contracts):
            return out
        why = f"target {target} (held {held.contracts})"
        if diff > 0:
            if (held.expiry - ctx.session_date).days >= self._min_dte(layer):
                return self._buy(
                    ctx,
                    layer=layer,
                    intent=intent,
                    legs=held.legs,
                    unit=unit,
                    contracts=diff,
                    contracts_after_if_full=target,
                    reasons=reasons,
                    why=why,
                )
            return self._roll_instead_of_adding(ctx, held, reasons, target)
        return self._sell(
            ctx,
            layer=layer,
            intent=OrderIntent.RESIZE,
            contracts=-diff,
            reasons=reasons,
            why=why,
        )

    def _rebalance(self, ctx: _DayCtx, skip: set[Layer], reason: SignalReading) -> list[Decision]:
        """Re-size every active layer to its current target (SPEC §4 cadence / big_move)."""
        out: list[Decision] = []
        if ctx.state is None or ctx.risk is None:
            return out
        for layer in self._ladder.active_layers:
            if layer not in skip:
                out.extend(
                    self._size_layer(ctx, layer, (reason,), OrderIntent.RESIZE, is_rebalance=True)
                )
        self._last_rebalance_index = ctx.session_index
        self._rebalance_ref = {
            Symbol.SPX: self._price[Symbol.SPX],
            Symbol.IWM: self._price[Symbol.IWM],
        }
        return out

    def _enforce_cap(self, ctx: _DayCtx) -> list[Decision]:
        """Sell hedges down (L3, L2, L1) when the cap shrank below the open premium.

        Not without a condor: a broker position list that lacks the condor (not loaded
        yet) must not liquidate the hedges.
        """
        out: list[Decision] = []
        if self._condor is None:
            return out
        cap = self.cost_cap_usd
        for layer in reversed(_LAYERS):
            excess = self.open_premium_usd - cap
            if excess <= _EPS_USD:
                break
            held = self._hedges.get(layer)
            if held is None:
                continue
            per = held.premium_paid_usd / held.contracts
            n = min(held.contracts, math.ceil((excess - _EPS_USD) / per)) if per > 0 else 0
            if n <= 0:
                continue
            ctx.is_capped = True
            reading = SignalReading(
                id="cost_cap",
                value=self.open_premium_usd,
                threshold=cap,
                holds=True,
                detail=f"open premium ${_round_usd(self.open_premium_usd):,.2f} > cap "
                f"${_round_usd(cap):,.2f}",
            )
            out.append(
                Alert(
                    decision_id=self._next_id(ctx.session_date, "alert", "cost_cap", layer.value),
                    ts=ctx.now,
                    kind=AlertKind.COST_CAP,
                    severity=Severity.WARNING,
                    key=f"cost_cap:{layer.value}",
                    message=f"{layer.value} resize: selling {n} of {held.contracts} x "
                    f"{_leg_text(held.legs)} to the cost cap: {reading.detail}",
                    layer=layer,
                    reasons=(reading,),
                )
            )
            out.extend(
                self._sell(
                    ctx,
                    layer=layer,
                    intent=OrderIntent.RESIZE,
                    contracts=n,
                    reasons=(reading,),
                    is_capped=True,
                    why=reading.detail,
                )
            )
        return out

    # ------------------------------------------------------------------ evaluation

    def _prepare(self, ctx: _DayCtx) -> None:
        """Template condor (replay/sim), market state and condor risk for ``ctx``."""
        snap = ctx.snapshot
        state = self._market_state(ctx.session_date, snap)
        ctx.state = state
        if state is None:
            return
        if self._is_template:
            c = self._condor
            tmpl = self._params.condor_template
            if c is None or (c.expiry - ctx.session_date).days <= tmpl.roll_at_dte:
                self._condor = open_template_condor(state, tmpl, self._params.scenario)
        if self._condor is not None:
            ctx.risk = condor_risk(
                self._condor, self._satellite_usd(), state, self._params.scenario
            )

    def _manage(
        self, ctx: _DayCtx, transitions: Sequence[Transition], *, is_close: bool
    ) -> list[Decision]:
        out, changed = self._apply_transitions(ctx, transitions)
        if is_close:
            out.extend(self._rolls(ctx, changed))
        big = ctx.snapshot.get("big_move")
        due = (
            is_close
            and self._last_rebalance_index is not None
            and ctx.session_index - self._last_rebalance_index
            >= self._params.ladder.rebalance_every_days
        )
        if self._rebalance_ref is None and is_close and ctx.state is not None:
            self._last_rebalance_index = ctx.session_index
            self._rebalance_ref = {
                Symbol.SPX: self._price[Symbol.SPX],
                Symbol.IWM: self._price[Symbol.IWM],
            }
        elif big.holds:
            out.extend(self._rebalance(ctx, changed, big))
        elif due:
            assert self._last_rebalance_index is not None  # noqa: S101 - checked in `due`
            every = self._params.ladder.rebalance_every_days
            reading = SignalReading(
                id="rebalance_cadence",
                value=float(ctx.session_index - self._last_rebalance_index),
                threshold=float(every),
                holds=True,
                detail=f"{ctx.session_index - self._last_rebalance_index} sessions since the "
                f"last rebalance (every {every})",
            )
            out.extend(self._rebalance(ctx, changed, reading))
        out.extend(self._enforce_cap(ctx))
        return out

    def on_session_close(self, session_date: date, now: datetime) -> list[Decision]:
        """Commit the day's closes and run the whole SPEC §4 cycle for it.

        Args:
            session_date: the trading day that closed.
            now: evaluation time, tz-aware UTC (stamps the decisions).

        Returns:
            The decisions of the day, in order: layer changes with their alerts, the
            orders they need, rolls, rebalance orders, cost-cap alerts. ``[]`` for a
            date not after the last processed close (idempotent), or when a required
            series (SPX, IWM, VIX) has never been quoted.
        """
        last = self._book.last_session
        if last is not None and session_date <= last:
            return []
        if any(s not in self._price for s in REQUIRED_SYMBOLS):
            return []
        closes: dict[Symbol, float] = {}
        for sym in _SIGNAL_SYMBOLS:
            px = self._price.get(sym)
            if px is None:
                continue
            if sym in _OPTIONAL_SIGNAL_SYMBOLS and self._price_day.get(sym) != session_date:
                continue
            closes[sym] = px
        self._book.on_close(session_date, closes)
        snap = self._book.evaluate(session_date, rebalance_ref=self._rebalance_ref)
        self._last_snapshot = snap
        index = self._index_of(session_date)
        ctx = _DayCtx(session_date=session_date, now=now, session_index=index, snapshot=snap)
        self._begin(ctx)
        if self._pending:
            # TIF DAY: proposals of earlier sessions that never filled have expired.
            self._pending = {
                ref: p for ref, p in self._pending.items() if p.session_date >= session_date
            }
        self._prepare(ctx)
        self._ladder, transitions = ladder_mod.step(
            self._ladder,
            snap,
            session_index=index,
            params=self._params.ladder,
            signals=self._params.signals,
        )
        out = self._manage(ctx, transitions, is_close=True)
        self._end(ctx)
        self._days_count += 1
        self._days.append(self._summary(ctx))
        return out

    def _summary(self, ctx: _DayCtx) -> DaySummary:
        loss = ctx.risk.scenario_loss_usd if ctx.risk is not None else 0.0
        gain = 0.0
        if ctx.state is not None:
            gain, _ = self._held_gain_and_delta(_LAYERS, ctx)
        return DaySummary(
            session_date=ctx.session_date,
            readings=ctx.snapshot.readings,
            active_layers=self._ladder.active_layers,
            contracts_by_layer={h.layer: h.contracts for h in self.hedges},
            premium_paid_to_date_usd=self._premium_to_date_usd,
            open_premium_usd=self.open_premium_usd,
            cost_cap_usd=self.cost_cap_usd,
            scenario_loss_usd=loss,
            covered_frac=gain / loss if loss > 0.0 else 0.0,
            is_cost_capped=ctx.is_capped,
            proposals=ctx.proposals,
        )

    def evaluate(self, now: datetime) -> list[Decision]:
        """Provisional intraday evaluation at the latest prices (SPEC §2).

        ``big_move`` (vs. prices at the last rebalance) re-sizes at once; layer changes
        happen only when ``ladder.intraday_confirm`` is on. Rolls and the cadence wait
        for the close. Without ``intraday_confirm`` a tick costs an O(1) big-move check
        (about 2 µs); the full provisional snapshot is built only when it holds.

        Args:
            now: evaluation time, tz-aware UTC.

        Returns:
            The decisions (usually none).
        """
        if not self._price_day or any(s not in self._price for s in REQUIRED_SYMBOLS):
            return []
        day = self._price_day[Symbol.SPX]
        last = self._book.last_session
        if last is None or day <= last or self._rebalance_ref is None:
            return []
        lp = self._params.ladder
        if not lp.intraday_confirm and not self._moved_enough(self._rebalance_ref):
            # Fast path (every tick): nothing can happen without a big move, so the full
            # provisional snapshot is not built; ``latest_snapshot`` keeps the last one.
            return []
        prices = {s: self._price[s] for s in _SIGNAL_SYMBOLS if s in self._price}
        snap = self._book.evaluate(day, prices, rebalance_ref=self._rebalance_ref)
        self._last_snapshot = snap
        big = snap.get("big_move")
        if not big.holds and not lp.intraday_confirm:
            return []
        index = self._index_of(day)
        ctx = _DayCtx(session_date=day, now=now, session_index=index, snapshot=snap)
        self._begin(ctx)
        self._prepare(ctx)
        transitions: tuple[Transition, ...] = ()
        if lp.intraday_confirm:
            self._ladder, transitions = ladder_mod.step(
                self._ladder,
                snap,
                session_index=index,
                params=lp,
                signals=self._params.signals,
                is_close=False,
            )
        out = self._manage(ctx, transitions, is_close=False)
        self._end(ctx)
        return out

    def _moved_enough(self, ref: Mapping[Symbol, float]) -> bool:
        """SPEC §3 ``big_move`` on the latest prices, O(1) and allocation-free.

        Same formula as the SignalBook reading: ``max |price/ref − 1| × 100 >=
        big_move_pct`` over SPX and IWM.
        """
        threshold = self._params.signals.big_move_pct
        for sym in (Symbol.SPX, Symbol.IWM):
            then = ref.get(sym)
            now = self._price.get(sym)
            if (
                then is not None
                and now is not None
                and abs((now / then - 1.0) * 100.0) >= threshold
            ):
                return True
        return False

    # ------------------------------------------------------------------ live-only inputs

    def on_heartbeat(self, now: datetime) -> list[Decision]:
        """Staleness and calendar checks (live only).

        ``data_stale`` (critical) once per outage per required symbol when its last
        valid quote is older than ``stale_after_s`` (a new valid quote ends the outage);
        ``calendar_expiring`` (warning) once per day when the last configured macro
        event is within ``calendar_warn_days`` of ``now``'s date (or none is configured).

        Args:
            now: tz-aware UTC.

        Returns:
            The alerts raised.
        """
        out: list[Decision] = []
        if self._watch_since is None:
            self._watch_since = now
        limit = self._params.stale_after_s
        for sym in (Symbol.SPX, Symbol.IWM, Symbol.VIX):
            if sym in self._stale:
                continue
            ts = self._price_ts.get(sym, self._watch_since)
            age = (now - ts).total_seconds()
            if age > limit:
                self._stale.add(sym)
                day = now.date()
                out.append(
                    Alert(
                        decision_id=orders.decision_id(
                            "data_stale", sym.value, ts.isoformat(), day.isoformat()
                        ),
                        ts=now,
                        kind=AlertKind.DATA_STALE,
                        severity=Severity.CRITICAL,
                        key=f"data_stale:{sym.value}",
                        message=f"no valid {sym.value} quote for {age:.0f} s "
                        f"(limit {limit:g} s); decisions wait for data",
                    )
                )
        today = now.date()
        if self._calendar_warned_on != today:
            events = self._params.macro_events
            last_event = events[-1].day if events else None
            warn = self._params.calendar_warn_days
            if last_event is None or (last_event - today).days <= warn:
                self._calendar_warned_on = today
                what = (
                    "no macro calendar is configured"
                    if last_event is None
                    else f"the macro calendar ends on {last_event.isoformat()} "
                    f"({(last_event - today).days} days away, warn at {warn})"
                )
                out.append(
                    Alert(
                        decision_id=orders.decision_id("calendar_expiring", today.isoformat()),
                        ts=now,
                        kind=AlertKind.CALENDAR_EXPIRING,
                        severity=Severity.WARNING,
                        key="calendar_expiring",
                        message=f"{what}: event_window cannot see events beyond it; "
                        "update the FOMC/CPI/PPI calendar",
                    )
                )
        return out

    def on_fill(self, fill: Fill) -> list[Decision]:
        """Book a broker fill into the sleeve (broker mode; a no-op for unknown refs).

        Args:
            fill: the execution (``contracts`` units at ``price`` per unit).

        Returns:
            Always ``[]`` (the sleeve changes; no new decision).
        """
        p = self._pending.get(fill.order_ref)
        if p is None or fill.contracts <= 0:
            return []
        n = min(fill.contracts, p.contracts)
        self._apply(fill.order_ref, p, n, fill.price)
        if n >= p.contracts:
            del self._pending[fill.order_ref]
        else:
            self._pending[fill.order_ref] = replace(p, contracts=p.contracts - n)
        return []

    def set_positions(
        self,
        *,
        condor: IronCondor | None,
        hedges: Sequence[HedgePosition],
        satellite: Satellite | None,
    ) -> None:
        """Replace the positions with the broker's view (one hedge per layer: last wins).

        Args:
            condor: the held condor (None: none held).
            hedges: held hedge positions.
            satellite: the satellite exposure.
        """
        self._condor = condor
        self._is_template = False
        self._satellite = satellite
        self._hedges = {h.layer: h for h in hedges}

    # ------------------------------------------------------------------ persistence

    def snapshot(self) -> bytes:
        """Everything needed to continue identically, as versioned JSON bytes.

        Holds the signal book, the ladder, the sleeve, the condor, the satellite, the
        latest prices, pending orders, counters and the rebalance references; not the
        day history (:attr:`days`).
        """
        d: dict[str, Any] = {
            "version": SNAPSHOT_VERSION,
            "book": self._book.state(),
            "ladder": ladder_mod.state_to_dict(self._ladder),
            "is_template": self._is_template,
            "condor": None if self._condor is None else _condor_to_dict(self._condor),
            "satellite": None
            if self._satellite is None
            else {
                "symbol": self._satellite.symbol.value,
                "notional_usd": self._satellite.notional_usd,
            },
            "hedges": [_hedge_to_dict(h) for h in self.hedges],
            "pending": {ref: _pending_to_dict(p) for ref, p in sorted(self._pending.items())},
            "premium_to_date_usd": self._premium_to_date_usd,
            "rejected": self._rejected,
            "price": {s.value: v for s, v in self._price.items()},
            "price_ts": {s.value: v.isoformat() for s, v in self._price_ts.items()},
            "price_day": {s.value: v.isoformat() for s, v in self._price_day.items()},
            "vx_expiry": {s.value: v.isoformat() for s, v in self._vx_expiry.items()},
            "last_rebalance_index": self._last_rebalance_index,
            "rebalance_ref": None
            if self._rebalance_ref is None
            else {s.value: v for s, v in self._rebalance_ref.items()},
            "seq_day": None if self._seq_day is None else self._seq_day.isoformat(),
            "seq": self._seq,
            "days_count": self._days_count,
            "counts_day": None if self._counts_day is None else self._counts_day.isoformat(),
            "day_proposals": self._day_proposals,
            "day_capped": self._day_capped,
            "stale": sorted(s.value for s in self._stale),
            "calendar_warned_on": None
            if self._calendar_warned_on is None
            else self._calendar_warned_on.isoformat(),
        }
        return json.dumps(d, sort_keys=True, separators=(",", ":")).encode("utf-8")

    def restore(self, data: bytes) -> None:
        """Load a :meth:`snapshot` (into an engine built with the same params/sessions).

        Args:
            data: snapshot bytes.

        Raises:
            InvariantViolation: unreadable JSON, wrong version or missing fields.
        """
        try:
            d = json.loads(data.decode("utf-8"))
            version = d.get("version")
            if version != SNAPSHOT_VERSION:
                msg = f"engine snapshot version {version!r}, expected {SNAPSHOT_VERSION}"
                raise InvariantViolation(msg)
            self._load(d)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            msg = f"unreadable engine snapshot: {exc}"
            raise InvariantViolation(msg) from exc

    def _load(self, d: Mapping[str, Any]) -> None:
        self._book.load_state(d["book"])
        self._ladder = ladder_mod.state_from_dict(d["ladder"])
        self._is_template = bool(d["is_template"])
        self._condor = None if d["condor"] is None else _condor_from_dict(d["condor"])
        sat = d["satellite"]
        self._satellite = (
            None
            if sat is None
            else Satellite(symbol=Symbol(sat["symbol"]), notional_usd=float(sat["notional_usd"]))
        )
        self._hedges = {h.layer: h for h in (_hedge_from_dict(x) for x in d["hedges"])}
        self._pending = {ref: _pending_from_dict(p) for ref, p in d["pending"].items()}
        self._premium_to_date_usd = float(d["premium_to_date_usd"])
        self._rejected = int(d["rejected"])
        self._price = {Symbol(k): float(v) for k, v in d["price"].items()}
        self._price_ts = {Symbol(k): datetime.fromisoformat(v) for k, v in d["price_ts"].items()}
        self._price_day = {Symbol(k): date.fromisoformat(v) for k, v in d["price_day"].items()}
        self._vx_expiry = {Symbol(k): date.fromisoformat(v) for k, v in d["vx_expiry"].items()}
        lri = d["last_rebalance_index"]
        self._last_rebalance_index = None if lri is None else int(lri)
        ref = d["rebalance_ref"]
        self._rebalance_ref = None if ref is None else {Symbol(k): float(v) for k, v in ref.items()}
        self._seq_day = None if d["seq_day"] is None else date.fromisoformat(d["seq_day"])
        self._seq = int(d["seq"])
        self._days_count = int(d["days_count"])
        cd = d["counts_day"]
        self._counts_day = None if cd is None else date.fromisoformat(cd)
        self._day_proposals = int(d["day_proposals"])
        self._day_capped = bool(d["day_capped"])
        self._stale = {Symbol(s) for s in d["stale"]}
        cw = d["calendar_warned_on"]
        self._calendar_warned_on = None if cw is None else date.fromisoformat(cw)
        self._days = []
        self._last_snapshot = None
