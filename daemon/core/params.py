"""Frozen parameter tree of the pure core (built by ``daemon.settings.Settings.to_params``).

Defaults are the SPEC defaults; the allowed ranges are enforced by ``daemon.settings``
(pydantic ``Field(ge=…, le=…)``), not here. Every trading number the engine uses lives
here: the core holds no literal thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalParams:
    """SPEC §3 signal periods and thresholds."""

    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal: int = 9
    rsi_period: int = 14
    vix_rsi_hot: float = 70.0
    """``vix_rsi_hot`` holds when RSI(VIX) > this."""
    ratio_rsi_weak: float = 30.0
    """``ratio_rsi_weak`` holds when RSI(IWM/SPX) < this."""
    iv_spread_mean_days: int = 90
    iv_spread_blowout_frac: float = 0.25
    """``iv_spread_blowout``: RVX−VIX > mean + frac × |mean|."""
    iwm_sma_fast_days: int = 50
    iwm_sma_slow_days: int = 200
    big_move_pct: float = 3.0
    """``big_move``: |SPX or IWM move since last rebalance| ≥ this, percent."""
    event_window_days: int = 2
    """``event_window``: a macro event within this many trading days (inclusive of today)."""
    backwardation_ratio: float = 1.0
    """``backwardation``: VIX / VIX3M > this."""
    ad_divergence_days: int = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class LadderParams:
    """SPEC §4 layer rules."""

    l1_exit_closes: int = 3
    """L1 deactivates after this many consecutive closes with ratio MACD ≥ 0."""
    l2_exit_vix_rsi_below: float = 50.0
    """L2 deactivates when VIX RSI < this and VIX MACD < its signal line."""
    l3_exit_spread_frac: float = 0.10
    """L3 deactivates when RVX−VIX < mean + frac × |mean|."""
    min_hold_days: int = 2
    rebalance_every_days: int = 5
    rebalance_band_frac: float = 0.20
    """No-trade band of a rebalance, fraction of the units held (0–1; 0 = re-size on any
    difference). A cadence or ``big_move`` rebalance changes a layer only when
    |target − held| > this × held. Operational, not in the SPEC: SPEC §4 only says
    "re-sized every 5 trading days"; the band implements its "no emotional resizing"
    spirit [003, 004]. Activations, deactivations, rolls and cost-cap sell-downs ignore it.
    """
    roll_dte: int = 7
    """A layer whose option has fewer than this many calendar days left is rolled."""
    cost_cap_frac: float = 0.40
    """Open hedge premium ≤ this × condor credit received (USD)."""
    l1_min_dte: int = 14
    l2_min_dte: int = 30
    l2_max_dte: int = 60
    l1_cover_frac: float = 0.50
    """L1 scenario gain = this × projected loss L (SPEC range 0.40–0.60)."""
    l1_vega_multiplier: float = 0.60
    l2_cover_frac: float = 0.85
    """Cumulative L1+L2 scenario cover after L2 (our reading of 'raises ... to 0.85')."""
    l2_vega_multiplier: float = 0.85
    l2_strike_sd: float = 1.5
    """L2 call strike: VX future + this many standard deviations over the option's life."""
    l3_notional_add_frac: float = 0.15
    """L3 adds this fraction of the total ALVH scenario gain, as VIX call spreads."""
    l3_max_missing_closes: int = 5
    """L3 closes (fail-safe) after this many consecutive closes without RVX, its exit input."""
    l3_spread_width_pts: float = 5.0
    """Width of the L3 VIX call spread, VIX points."""
    l1_strike_otm_pts: float = 2.0
    """L1 call strike: this many points above the VX future (rounded to the strike grid)."""
    max_otm_pts: float = 5.0
    """L1/L3: a held call struck more than this many points above the VX future of its own
    expiry is outside the layer's rule: a rebalance re-strikes it (one roll) instead of
    adding to it (issue 10; not in the SPEC, which sets no strike for L1)."""
    l2_max_strike_sd: float = 2.0
    """L2: a held call struck more than this many standard deviations (of ln F over its
    remaining life) above its future is outside the layer's rule (SPEC §4: 1.5–2 sd)."""
    intraday_confirm: bool = False
    """When on, state changes may confirm on a provisional intraday close (SPEC §2)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioParams:
    """SPEC §5 scenario and pricing inputs."""

    vix_shock_pts: float = 6.0
    beta_days: int = 90
    """Window of the β regressions (SPX on VIX, IWM on SPX), trading days."""
    beta_short_days: int = 30
    spx_pct_per_vix_pt_floor: float = -0.5
    """β_vix used when history is short; also the least-negative value allowed (% per pt)."""
    vx_beta_to_spot: float = 0.7
    """ρ: VX future move per VIX point move."""
    iv_shift_per_vix_pt: float = 0.01
    """SPX implied vol rise per VIX point (decimal): Δ/100."""
    risk_free_rate: float = 0.04
    spx_dividend_yield: float = 0.015
    vix_option_iv: float = 0.90
    """Implied vol (decimal) for Black-76 VIX option pricing when no quote exists."""
    vix_strike_step_pts: float = 1.0
    """VIX option strike grid, points."""
    beta_floor_always: bool = False
    """False (SPEC §5.2): the β_vix floor replaces the regression only while history is
    short (fewer than ``beta_days`` sessions). True: ``min(regression, floor)`` every day
    (the scenario is never milder than the floor)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderParams:
    """SPEC §6 order construction."""

    limit_offset_frac: float = 0.0
    """Limit = mid × (1 + offset) for buys, mid × (1 − offset) for sells."""
    tif: str = "DAY"
    vix_option_multiplier: int = 100
    """VIX option multiplier, used only where no contract details exist (replay, sim)."""
    min_tick_above_3: float = 0.05
    min_tick_below_3: float = 0.01
    min_premium_pts: float = 0.15
    """No hedge option is bought below this premium per share (index points): a held
    option worth less is re-struck (one roll) instead of added to, and the L2 strike
    moves toward the money until it is worth this much (issue 10: no lottery tickets).
    0 disables the floor."""
    max_spread_frac: float = 0.5
    """Widest quoted market traded: (ask − bid) / mid (fraction); wider or empty markets
    are published as not placeable (broker mode; an ``order`` alert says so)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CondorTemplate:
    """The iron condor used in replay and simulation (no broker positions there).

    A new condor is opened at each session where none is held or the held one has
    ``roll_at_dte`` or fewer days left: short strikes ``short_put_otm_pct`` below and
    ``short_call_otm_pct`` above spot (rounded to ``strike_step_pts``), wings
    ``wing_width_pts`` wide, expiry ``dte_days`` out, credit priced by Black–Scholes
    with IV = VIX/100.
    """

    dte_days: int = 45
    roll_at_dte: int = 21
    short_put_otm_pct: float = 6.0
    short_call_otm_pct: float = 4.0
    wing_width_pts: float = 50.0
    strike_step_pts: float = 5.0
    contracts: int = 10
    multiplier: int = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountingParams:
    """P&L accounting of the sleeve and the replay's condor (issue 12); decisions ignore it.

    ``fee_per_contract_usd`` is charged per option contract per leg on every trade (a VIX
    call: 1 per unit; a call spread or a roll: 2; a condor: 4 per condor), USD, and
    booked as realised at once. The condor is marked with Black–Scholes at IV =
    VIX/100 (VIX as the at-the-money IV) plus ``condor_put_skew_pts`` for its put legs
    and ``condor_call_skew_pts`` for its call legs (vol points: +4 → IV + 0.04), a
    two-number stand-in for the SPX skew at the short strikes.
    """

    fee_per_contract_usd: float = 1.0
    condor_put_skew_pts: float = 4.0
    condor_call_skew_pts: float = -2.0


class MacroEventKind(StrEnum):
    """Kinds of scheduled macro events (SPEC §3 ``event_window``)."""

    FOMC = "FOMC"
    CPI = "CPI"
    PPI = "PPI"


@dataclass(frozen=True, slots=True, kw_only=True)
class MacroEvent:
    """One scheduled release or decision, on its (US/Eastern) calendar date."""

    day: date
    kind: MacroEventKind
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityParams:
    """Plausibility filter of quotes (issue 6 §3; :mod:`daemon.core.plausibility`).

    ``*_max_move_frac``: the largest one-step move of the symbol vs its last valid price
    and vs its previous close, as a fraction ``f``: prices outside ``[r/(1+f), r(1+f)]``
    are quarantined until confirmed.
    """

    spx_max_move_frac: float = 0.10
    iwm_max_move_frac: float = 0.15
    vix_max_move_frac: float = 1.50
    rvx_max_move_frac: float = 1.50
    vix3m_max_move_frac: float = 1.00
    vx_max_move_frac: float = 1.00
    """VX1 and VX2 futures."""
    confirm_ticks: int = 3
    """Consecutive new, consistent suspect prints that confirm a genuine move."""
    confirm_band_frac: float = 0.05
    """Consecutive suspect prints within this fraction of each other are consistent."""

    def max_move_frac(self, symbol: str) -> float:
        """The ``max_move_frac`` of ``symbol`` (a ``Symbol`` value; VX1/VX2 share one)."""
        match symbol:
            case "SPX":
                return self.spx_max_move_frac
            case "IWM":
                return self.iwm_max_move_frac
            case "VIX":
                return self.vix_max_move_frac
            case "RVX":
                return self.rvx_max_move_frac
            case "VIX3M":
                return self.vix3m_max_move_frac
            case _:
                return self.vx_max_move_frac


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineParams:
    """Everything the engine needs, frozen."""

    signals: SignalParams = field(default_factory=SignalParams)
    ladder: LadderParams = field(default_factory=LadderParams)
    scenario: ScenarioParams = field(default_factory=ScenarioParams)
    orders: OrderParams = field(default_factory=OrderParams)
    condor_template: CondorTemplate = field(default_factory=CondorTemplate)
    quality: QualityParams = field(default_factory=QualityParams)
    """Plausibility filter of quotes (issue 6 §3)."""
    days_window: int = 512
    """Day summaries kept in memory (``Engine.days``); older ones live in the journal."""
    satellite_notional_usd: float = 100_000.0
    """IWM satellite notional in replay/sim (0 disables it)."""
    stale_after_s: float = 120.0
    """A required symbol with no valid quote for this long raises ``data_stale``."""
    calendar_warn_days: int = 60
    """Warn when the macro calendar ends within this many days."""
    macro_events: tuple[MacroEvent, ...] = ()
    """Sorted by day."""
    accounting: AccountingParams = field(default_factory=AccountingParams)
    """Fees and condor marking skew of the P&L accounting (never changes a decision)."""
