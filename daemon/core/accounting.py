"""What the hedge is worth: marks of the sleeve, the condor's book, the always-on baseline.

Issue 12 ("What is the hedge worth?"). Pure and O(1) per session; nothing here changes a
decision. At each session close the engine calls:

* :func:`sleeve_pnl`: every held hedge lot marked to market. A VIX option is priced with
  **Black-76 on the VX future of its expiry** (:func:`daemon.core.scenario.future_for_expiry`
  from the VX1/VX2 quotes), at the IV source ``scenario.vix_option_iv`` (a flat,
  configured IV: the data holds no VIX option quotes), risk-free rate
  ``scenario.risk_free_rate``, ACT/365 to expiry: the same model that priced the
  proposal. On and after its expiry a leg is worth its intrinsic value against the VIX
  close of the expiry day (:func:`daemon.core.hedge_book.settlement_value`, the SOQ
  proxy). Realised P&L and premium come from :class:`~daemon.core.hedge_book.HedgeBook`.
* :class:`CondorBook`: the template condor of replay/sim as a book. Each condor the
  engine opens is sold at its Black–Scholes value with IV = VIX/100 (VIX as the SPX
  at-the-money IV) plus ``accounting.condor_put_skew_pts`` on the put legs and
  ``accounting.condor_call_skew_pts`` on the call legs; it is marked the same way at
  every close, and bought back at that mark when the engine rolls it (``condor.roll_at_dte``).
  Fees: ``accounting.fee_per_contract_usd`` × 4 legs × condors, at the open and at the close.
  (The engine's own ``net_credit``, which sets the cost cap, is priced at a flat VIX IV;
  the book's credit includes the skew, so the two differ by design.)
* :class:`SatelliteBook`: the IWM satellite (SPEC §1) held at its constant notional,
  rebalanced at each close: P&L += notional × IWM's close-to-close return (price return;
  IWM's dividends are not in the data).
* :class:`AlwaysOnL1`: a baseline sleeve that holds the L1 hedge on every day: the same
  instrument, SPEC §5.6 sizing, rolls, 5-session re-sizing and cost cap as the ladder's L1,
  without the triggers. Its P&L next to the sleeve's shows what the triggers are worth.
  It is not in the engine snapshot (a restored engine restarts it empty).

:func:`day_summary` then puts the day together: readings, layers, the sleeve, the cost
cap, the scenario loss and the share of it the held hedges cover, and the P&L.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date
from typing import Any, ClassVar

from daemon.core import rolls, sizing
from daemon.core.context import LAYERS, DayCtx, DecisionIds
from daemon.core.desk import OrderDesk
from daemon.core.hedge_book import HedgeBook, settlement_value
from daemon.core.hedge_pricing import HedgeUnit
from daemon.core.model import (
    HedgePosition,
    IronCondor,
    Layer,
    OptionLeg,
    OrderIntent,
    SignalReading,
)
from daemon.core.params import AccountingParams, EngineParams, ScenarioParams
from daemon.core.pnl import CondorPnl, DayPnl, DaySummary, LayerPnl
from daemon.core.pricing import black76_price_delta, bs_position_value
from daemon.core.scenario import MarketState, condor_legs, future_for_expiry, year_fraction

__all__ = [
    "AlwaysOnL1",
    "Books",
    "CondorBook",
    "SatelliteBook",
    "condor_buyback_usd",
    "day_summary",
    "hedge_mark_usd",
    "leg_mark",
    "sleeve_pnl",
]


def leg_mark(
    leg: OptionLeg, state: MarketState, params: ScenarioParams, settle_vix: float | None
) -> float:
    """Value of one LONG VIX option of ``leg`` per share, points (module docstring).

    Args:
        leg: the option (its ``position_qty`` is ignored).
        state: the close (session date, VX curve, VIX).
        params: ``vix_option_iv`` and ``risk_free_rate``.
        settle_vix: the settlement VIX of its expiry if recorded; None → ``state.vix``
            (used only on or after the expiry).

    Returns:
        Black-76 value before the expiry; intrinsic against the settlement VIX on or after.
    """
    if state.session_date >= leg.expiry:
        vix = state.vix if settle_vix is None else settle_vix
        return settlement_value((replace(leg, position_qty=1),), vix)
    price, _ = black76_price_delta(  # black76_greeks' price, bit for bit (issue 9)
        future_for_expiry(state, leg.expiry),
        leg.strike,
        year_fraction(state.session_date, leg.expiry),
        params.risk_free_rate,
        params.vix_option_iv,
        leg.right,
    )
    return price


def hedge_mark_usd(
    position: HedgePosition,
    state: MarketState,
    params: ScenarioParams,
    settle_vix: float | None = None,
) -> float:
    """Market value of a held hedge, USD: Σ qty × :func:`leg_mark` × multiplier × units.

    A call spread is the net of its legs (long minus short), so it is never below 0 and
    never above the width.
    """
    total = 0.0
    for leg in position.legs:
        total += leg.position_qty * leg_mark(leg, state, params, settle_vix) * leg.multiplier
    return total * position.contracts


def sleeve_pnl(
    book: HedgeBook,
    state: MarketState,
    params: ScenarioParams,
    unit_of: Callable[[tuple[OptionLeg, ...]], HedgeUnit | None] | None = None,
) -> dict[Layer, LayerPnl]:
    """P&L per layer at this close: every layer traded so far, its held lots marked.

    Args:
        book: the hedge book (settlements recorded for this close).
        state: the close.
        params: the scenario parameters (VIX option IV, rate).
        unit_of: the model-priced hedge unit of some legs at this ``state`` and
            ``params`` (:meth:`~daemon.core.desk.OrderDesk.unit` with no option market),
            or None. A held hedge before its expiry is then marked at its unit's
            ``premium_usd`` × units: the same Black-76 prices summed in the same order
            as :func:`hedge_mark_usd` (so the same float), and the unit the day's
            summary needs for the held cover is priced once (issue 9). It may return
            None (not priced: the hedge is marked by :func:`hedge_mark_usd`).

    Returns:
        ``{layer: LayerPnl}`` in layer order.
    """
    out: dict[Layer, LayerPnl] = {}
    day = state.session_date
    for layer in book.traded_layers():
        held = book.get(layer)
        mark = 0.0
        if held is not None:
            expiry = held.expiry
            unit = None
            legs = held.legs
            if (
                unit_of is not None
                and expiry > day
                and (len(legs) == 1 or _one_expiry(legs, expiry))
            ):
                unit = unit_of(legs)
            if unit is not None:
                mark = unit.premium_usd * held.contracts
            else:
                mark = hedge_mark_usd(held, state, params, book.settlement_vix(expiry))
        out[layer] = book.layer_pnl(layer, mark)
    return out


def _one_expiry(legs: tuple[OptionLeg, ...], expiry: date) -> bool:
    """All ``legs`` expire on ``expiry`` (a hedge unit's legs share one expiry)."""
    for leg in legs:  # noqa: SIM110 - a loop, not a generator: once a close per hedge
        if leg.expiry != expiry:
            return False
    return True


def condor_buyback_usd(
    condor: IronCondor, state: MarketState, scenario: ScenarioParams, acct: AccountingParams
) -> float:
    """Cost to buy the short condor back now, USD (>= 0 up to float error).

    Black–Scholes on SPX (rate ``risk_free_rate``, dividend yield ``spx_dividend_yield``),
    IV = VIX/100 + skew/100 per side (module docstring); intrinsic at or after expiry.
    """
    t_years = year_fraction(state.session_date, condor.expiry)
    iv_put = max((state.vix + acct.condor_put_skew_pts) / 100.0, 0.01)
    iv_call = max((state.vix + acct.condor_call_skew_pts) / 100.0, 0.01)
    value = bs_position_value(  # bs_greeks' prices summed, bit for bit (issue 9)
        state.spx,
        t_years,
        scenario.risk_free_rate,
        scenario.spx_dividend_yield,
        iv_put,
        iv_call,
        condor_legs(condor),
    )
    return -value * condor.multiplier * condor.contracts


class CondorBook:
    """The replay's condor as a book: credits, buy-backs, fees and the open mark (USD)."""

    MEMENTO_CONTAINERS: ClassVar[tuple[str, ...]] = ()
    """The attributes holding containers (:mod:`daemon.core.memento`)."""

    def __init__(self, params: EngineParams) -> None:
        self._scenario = params.scenario
        self._acct = params.accounting
        self._condor: IronCondor | None = None
        self._credit_to_date_usd = 0.0
        self._realised_usd = 0.0
        self._fees_usd = 0.0
        self._open_credit_usd = 0.0
        self._open_mark_usd = 0.0
        self._cycles = 0
        self._closed = (0.0, 0.0)  # (credit, buy-back) of a condor closed at the last close

    @property
    def pnl(self) -> CondorPnl:
        """The book after the last close."""
        return CondorPnl(
            credit_to_date_usd=self._credit_to_date_usd,
            realised_usd=self._realised_usd,
            fees_usd=self._fees_usd,
            open_credit_usd=self._open_credit_usd,
            open_mark_usd=self._open_mark_usd,
            cycles=self._cycles,
            closed_credit_usd=self._closed[0],
            closed_debit_usd=self._closed[1],
        )

    def _fee(self, condor: IronCondor) -> float:
        fee = self._acct.fee_per_contract_usd * 4 * condor.contracts
        self._fees_usd += fee
        return fee

    def on_close(self, state: MarketState, condor: IronCondor | None) -> CondorPnl:
        """Book a condor change (close the old at today's mark, sell the new) and mark.

        Args:
            state: the close.
            condor: the condor the engine holds after this close (None: none).

        Returns:
            :attr:`pnl`.
        """
        self._closed = (0.0, 0.0)
        opened, credit = False, 0.0
        if condor is not self._condor and condor != self._condor:  # identity: no field compare
            old = self._condor
            if old is not None:
                cost = condor_buyback_usd(old, state, self._scenario, self._acct)
                self._closed = (self._open_credit_usd, cost)
                self._realised_usd += self._open_credit_usd - cost - self._fee(old)
                self._open_credit_usd = 0.0
                self._open_mark_usd = 0.0
            if condor is not None:
                credit = condor_buyback_usd(condor, state, self._scenario, self._acct)
                opened = True
                self._realised_usd -= self._fee(condor)
                self._open_credit_usd = credit
                self._credit_to_date_usd += credit
                self._cycles += 1
            self._condor = condor
        if self._condor is not None:
            # a condor sold at this close is marked at the credit just computed (the same
            # call's value); else at today's buy-back
            self._open_mark_usd = (
                credit
                if opened
                else condor_buyback_usd(self._condor, state, self._scenario, self._acct)
            )
        return self.pnl

    def state(self) -> dict[str, Any]:
        """Snapshot of the counters (the condor itself is the engine's)."""
        return {
            "has_condor": self._condor is not None,
            "credit_to_date_usd": self._credit_to_date_usd,
            "realised_usd": self._realised_usd,
            "fees_usd": self._fees_usd,
            "open_credit_usd": self._open_credit_usd,
            "open_mark_usd": self._open_mark_usd,
            "cycles": self._cycles,
        }

    def load(self, d: Mapping[str, Any], condor: IronCondor | None) -> None:
        """Restore :meth:`state` (``condor``: the engine's restored condor)."""
        self._condor = condor if d.get("has_condor", False) else None
        self._credit_to_date_usd = float(d.get("credit_to_date_usd", 0.0))
        self._realised_usd = float(d.get("realised_usd", 0.0))
        self._fees_usd = float(d.get("fees_usd", 0.0))
        self._open_credit_usd = float(d.get("open_credit_usd", 0.0))
        self._open_mark_usd = float(d.get("open_mark_usd", 0.0))
        self._cycles = int(d.get("cycles", 0))


class SatelliteBook:
    """The IWM satellite at a constant notional: cumulative P&L, USD (positive = gain)."""

    MEMENTO_CONTAINERS: ClassVar[tuple[str, ...]] = ()
    """The attributes holding containers (:mod:`daemon.core.memento`)."""

    def __init__(self) -> None:
        self._last_iwm: float | None = None
        self._pnl_usd = 0.0

    def on_close(self, iwm: float, notional_usd: float) -> float:
        """Add today's ``notional_usd × (iwm / previous close − 1)``; returns the total."""
        if self._last_iwm is not None and notional_usd:
            self._pnl_usd += notional_usd * (iwm / self._last_iwm - 1.0)
        self._last_iwm = iwm
        return self._pnl_usd

    def state(self) -> dict[str, Any]:
        """Snapshot: the last IWM close and the P&L."""
        return {"last_iwm": self._last_iwm, "pnl_usd": self._pnl_usd}

    def load(self, d: Mapping[str, Any]) -> None:
        """Restore :meth:`state` (missing keys: a fresh book)."""
        last = d.get("last_iwm")
        self._last_iwm = None if last is None else float(last)
        self._pnl_usd = float(d.get("pnl_usd", 0.0))


_BASELINE_READING = SignalReading(
    id="always_on_l1",
    value=1.0,
    threshold=1.0,
    holds=True,
    detail="baseline: L1 held on every day",
)


class AlwaysOnL1:
    """The L1 hedge held on every day, on its own book (module docstring)."""

    def __init__(self, params: EngineParams) -> None:
        self._params = params
        self._book = HedgeBook(params.accounting.fee_per_contract_usd)
        # its proposals are never read: no notes, scenario figures or inputs (issue 9)
        self._desk = OrderDesk(params, self._book, DecisionIds(), assume_fills=True, narrates=False)
        self._last_index: int | None = None

    @property
    def book(self) -> HedgeBook:
        """The baseline's hedge book."""
        return self._book

    def on_close(self, ctx: DayCtx, condor: IronCondor | None) -> LayerPnl | None:
        """Roll, re-size (every ``rebalance_every_days`` sessions) and mark the baseline.

        Args:
            ctx: the engine's evaluation of this close (its market state and condor risk).
            condor: the condor hedged (its credit sets the cap).

        Returns:
            The baseline's L1 P&L; None before the first close with market state.
        """
        state = ctx.state
        if state is None:
            return None
        desk = self._desk
        desk.condor = condor
        c = DayCtx(
            session_date=ctx.session_date,
            now=ctx.now,
            session_index=ctx.session_index,
            snapshot=ctx.snapshot,
            state=state,
            risk=ctx.risk,
            units=ctx.units,  # the same close, state and parameters: its units are shared
        )
        if ctx.risk is not None:
            rolls.rolls(desk, c, set())
            held = self._book.get(Layer.L1)
            every = self._params.ladder.rebalance_every_days
            if (
                held is None
                or self._last_index is None
                or ctx.session_index - self._last_index >= every
            ):
                sizing.size_layer(
                    desk,
                    c,
                    Layer.L1,
                    (_BASELINE_READING,),
                    OrderIntent.RESIZE,
                    is_rebalance=held is not None,
                )
                self._last_index = ctx.session_index
            desk.enforce_cap(c)
        self._book.record_settlement(ctx.session_date, state.vix)
        # its desk has no option market: a unit priced at this close (by its sizing or
        # the engine's, whose context it shares) gives the mark; any other held L1 is
        # marked by Black-76 alone (the same float, without the scenario and delta that
        # nothing at this close would read; issue 9)
        marks = sleeve_pnl(
            self._book, state, self._params.scenario, lambda legs: desk.priced_unit(legs, c)
        )
        pnl = marks.get(Layer.L1)
        return LayerPnl() if pnl is None else pnl  # the default built only when needed


class Books:
    """The P&L books the engine marks at each close.

    The sleeve's marks (its hedge book is the engine's), the condor, the satellite and,
    optionally, the always-on L1 baseline.

    Args:
        params: the frozen parameter tree.
        track_baseline: also run :class:`AlwaysOnL1`.
    """

    def __init__(self, params: EngineParams, *, track_baseline: bool) -> None:
        self._params = params
        self._condor = CondorBook(params)
        self._satellite = SatelliteBook()
        self._baseline = AlwaysOnL1(params) if track_baseline else None

    def on_close(
        self,
        ctx: DayCtx,
        hedges: HedgeBook,
        condor: IronCondor | None,
        satellite_notional_usd: float,
        unit_of: Callable[[tuple[OptionLeg, ...]], HedgeUnit] | None = None,
    ) -> DayPnl | None:
        """Record settlements, mark every book at this close; None without market state.

        Args:
            ctx: the engine's evaluation of the close (after its decisions).
            hedges: the sleeve's hedge book.
            condor: the condor held after the close.
            satellite_notional_usd: the IWM satellite's notional (0: none).
            unit_of: the model-priced hedge unit of some legs at this close, or None
                (:func:`sleeve_pnl`).
        """
        state = ctx.state
        if state is None:
            return None
        hedges.record_settlement(ctx.session_date, state.vix)
        return DayPnl(
            spx=state.spx,
            vix=state.vix,
            satellite_usd=self._satellite.on_close(state.iwm, satellite_notional_usd),
            sleeve=sleeve_pnl(hedges, state, self._params.scenario, unit_of),
            condor=self._condor.on_close(state, condor),
            baseline_l1=None if self._baseline is None else self._baseline.on_close(ctx, condor),
        )

    def saved_parts(self) -> tuple[object, ...]:
        """The books :meth:`state` covers, for the skip guard's in-memory save."""
        return (self._condor, self._satellite)

    def state(self) -> dict[str, Any]:
        """Snapshot keys ``condor_pnl`` and ``satellite_pnl`` (the baseline is not kept)."""
        return {"condor_pnl": self._condor.state(), "satellite_pnl": self._satellite.state()}

    def load(self, d: Mapping[str, Any], condor: IronCondor | None) -> None:
        """Restore :meth:`state` (missing keys, from older snapshots: fresh books)."""
        self._condor.load(d.get("condor_pnl", {}), condor)
        self._satellite.load(d.get("satellite_pnl", {}))


def day_summary(
    desk: OrderDesk, ctx: DayCtx, active: tuple[Layer, ...], pnl: DayPnl | None
) -> DaySummary:
    """The summary of one session close (after its decisions).

    Args:
        desk: the order desk (the sleeve's hedge book, the condor, the cost cap).
        ctx: the engine's evaluation of the close.
        active: the active ladder layers, L1..L3.
        pnl: the books marked at the close (None without market state).

    Returns:
        The day's :class:`~daemon.core.pnl.DaySummary`; ``covered_frac`` is the held
        hedges' scenario gain over the scenario loss L (0 when L is 0).
    """
    loss = ctx.risk.scenario_loss_usd if ctx.risk is not None else 0.0
    gain = 0.0
    if ctx.state is not None:
        gain, _ = sizing.held_gain_and_delta(desk, LAYERS, ctx)
    book = desk.book
    return DaySummary(
        session_date=ctx.session_date,
        readings=ctx.snapshot.readings,
        active_layers=active,
        contracts_by_layer={h.layer: h.contracts for h in book.hedges},
        premium_paid_to_date_usd=book.premium_paid_to_date_usd,
        open_premium_usd=book.open_premium_usd,
        cost_cap_usd=desk.cost_cap_usd,
        scenario_loss_usd=loss,
        covered_frac=gain / loss if loss > 0.0 else 0.0,
        is_cost_capped=ctx.is_capped,
        proposals=ctx.proposals,
        pnl=pnl,
    )
