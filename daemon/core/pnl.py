"""P&L records and the day's summary: what the engine reports after each session close.

Frozen, slotted, keyword-only dataclasses like :mod:`daemon.core.model`'s, used by the
core (:mod:`daemon.core.accounting`, :mod:`daemon.core.hedge_book`, the engine's
``DaySummary``) and the shell's reports (``days.csv``, the HTML report). They never cross
a port. Sign: positive = a gain to the account; amounts in USD.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from daemon.core.fastinit import fast_init
from daemon.core.model import Layer, SignalReading

__all__ = ["CondorPnl", "DayPnl", "DaySummary", "LayerPnl"]


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class LayerPnl:
    """P&L of one layer's hedges since the start (the SPEC §4 Second Engine sleeve), USD.

    Sign: positive = a gain to the account. ``realised_usd`` is net of fees; open lots
    are carried at ``open_cost_usd`` (premium paid for what is held) and marked at
    ``open_mark_usd`` (Black-76 on the VX future; at/after expiry the settlement proxy).

    Attributes:
        premium_paid_usd: premium paid for every buy of the layer to date.
        realised_usd: closed, rolled and expired lots: proceeds − their cost − fees.
        fees_usd: fees paid to date (already inside ``realised_usd``).
        open_cost_usd: premium paid for the lots still held.
        open_mark_usd: market value of the lots still held.
    """

    premium_paid_usd: float = 0.0
    realised_usd: float = 0.0
    fees_usd: float = 0.0
    open_cost_usd: float = 0.0
    open_mark_usd: float = 0.0

    @property
    def unrealised_usd(self) -> float:
        """Open mark − open cost, USD."""
        return self.open_mark_usd - self.open_cost_usd

    @property
    def total_usd(self) -> float:
        """Realised + unrealised, USD."""
        return self.realised_usd + self.unrealised_usd


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class CondorPnl:
    """P&L of the replay's template condor since the start, USD (positive = gain).

    Attributes:
        credit_to_date_usd: credits collected at every open (skewed Black–Scholes marks).
        realised_usd: closed cycles: credit − buy-back cost − fees.
        fees_usd: fees paid to date (inside ``realised_usd``).
        open_credit_usd: credit of the open cycle (0 when none).
        open_mark_usd: cost to buy the open condor back now (>= 0).
        cycles: condors opened so far.
        closed_credit_usd: the credit of a condor closed at this close (0: none closed).
        closed_debit_usd: what buying that condor back cost (0: none closed).
    """

    credit_to_date_usd: float = 0.0
    realised_usd: float = 0.0
    fees_usd: float = 0.0
    open_credit_usd: float = 0.0
    open_mark_usd: float = 0.0
    cycles: int = 0
    closed_credit_usd: float = 0.0
    closed_debit_usd: float = 0.0

    @property
    def total_usd(self) -> float:
        """Realised + the open cycle's credit − its buy-back cost, USD."""
        return self.realised_usd + self.open_credit_usd - self.open_mark_usd


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class DayPnl:
    """The books at a session close (issue 12): sleeve per layer, condor, baseline.

    Attributes:
        spx: SPX close used for the marks, points.
        vix: VIX close used for the marks (and the expiry settlement proxy), points.
        sleeve: P&L per layer (L1..L3; absent = never traded).
        condor: the template condor's P&L (replay/sim; zeros in broker mode).
        baseline_l1: the always-on L1 sleeve on the same path (None when not tracked).
        satellite_usd: the IWM satellite's cumulative P&L at its constant notional, USD.
    """

    spx: float
    vix: float
    sleeve: dict[Layer, LayerPnl] = field(default_factory=dict)
    condor: CondorPnl = field(default_factory=CondorPnl)
    baseline_l1: LayerPnl | None = None
    satellite_usd: float = 0.0

    @property
    def sleeve_total_usd(self) -> float:
        """Sum over layers of realised + unrealised P&L, USD."""
        return sum(p.total_usd for p in self.sleeve.values())


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class DaySummary:
    """The engine's state after a session close (one ``days.csv`` row).

    Attributes:
        session_date: the trading day.
        readings: every SPEC §3 signal reading at the close, in SPEC order.
        active_layers: layers active after the close.
        contracts_by_layer: hedge units held per layer after the close.
        premium_paid_to_date_usd: cumulative premium paid for hedges since start, USD.
        open_premium_usd: premium of hedges still held, USD (the cost-cap measure).
        cost_cap_usd: the cap on ``open_premium_usd`` (cost_cap_frac × condor credit), USD.
        scenario_loss_usd: projected scenario loss L of condor + satellite, USD.
        covered_frac: scenario gain of held hedges / L.
        is_cost_capped: whether a target was scaled down by the cap on this day.
        proposals: number of orders proposed on this day.
        pnl: the P&L books after the close (None when no market state was available).
    """

    session_date: date
    readings: tuple[SignalReading, ...]
    active_layers: tuple[Layer, ...]
    contracts_by_layer: dict[Layer, int] = field(default_factory=dict)
    premium_paid_to_date_usd: float = 0.0
    open_premium_usd: float = 0.0
    cost_cap_usd: float = 0.0
    scenario_loss_usd: float = 0.0
    covered_frac: float = 0.0
    is_cost_capped: bool = False
    proposals: int = 0
    pnl: DayPnl | None = None
