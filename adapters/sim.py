"""Seeded market simulator (a ``MarketDataSource`` that needs no files).

Purpose: a self-contained demo and end-to-end fixture in which the ALVH ladder (SPEC §4)
climbs and then unwinds within a few minutes of wall time (default 160 sessions at 2 s).

Model (all randomness from one ``numpy.random.Generator(PCG64(seed))``; the regime
*timing* is scripted, the paths are random):

* **VIX**: log-Ornstein–Uhlenbeck toward a regime target, ``d ln V = κ (ln m − ln V) dt +
  σ_v dW_v``, plus upward Poisson jumps in stress. Volatility clusters because SPX and IWM
  variance follow the VIX level (a stochastic-volatility model: daily SPX σ = VIX/100/√252 ×
  ``_SPX_VOL_TO_VIX``), and the stress regime raises both the target and the jump rate.
* **SPX**: log returns with regime drift and σ from the VIX; the SPX shock is correlated
  −0.75 with the VIX shock (leverage effect: SPX returns vs VIX changes are negative).
* **IWM**: ``β = 1.15`` × the SPX return + idiosyncratic noise + a regime drift of the
  IWM/SPX ratio (the small-cap rotation that drives ``ratio_macd_negative``).
* **RVX** = VIX + a spread (points) following an OU toward a regime target (4 pts calm,
  10 pts in stress: the SPEC §3 ``iv_spread_blowout``).
* **VIX3M**: ``ln VIX3M = 0.6 ln VIX + 0.4 ln L`` (L = 19, long-run level) + noise: contango
  when the VIX is low, backwardation (VIX/VIX3M > 1) in stress.
* **VX1/VX2**: monthly VX futures on the CFE expiry calendar
  (:func:`daemon.core.expiries.vix_expiries_after`), priced as the expected VIX
  ``exp(ln L + (ln V − ln L) e^{−τ/45})`` with τ calendar days to expiry, plus noise:
  they converge to spot at expiry.

Scripted regimes, as fractions of ``sessions`` (with the default 160: sessions 0–39 calm,
40–59 rotation, 60–99 stress, 100–159 recovery):

* **calm** [0, 0.25): VIX ≈ 14.5, the IWM/SPX ratio drifts up (ratio MACD > 0: ladder at L0).
* **rotation** [0.25, 0.375): the ratio falls 0.35 %/day → ratio MACD < 0 → L1; the VIX
  drifts up, which often confirms L2 early.
* **stress** [0.375, 0.625): a +42 % VIX gap on its first session, VIX target 2.4× base,
  upward jumps, SPX drifting down, the RVX−VIX spread widening → VIX RSI > 70 with a MACD
  bull cross (L2), spread blowout (L3), backwardation (VIX/VIX3M > 1).
* **recovery** [0.625, 1]: VIX back to base, the ratio rallies, the spread normalises → L2
  and L3 release, then L1 after its three non-negative closes.

The seed drives every random draw (shocks, jumps); the regime boundaries are fixed.

:meth:`SimSource.history` returns calm warm-up bars on the XNYS sessions before
``start`` (the same continuous path). Each streamed session yields ``ticks_per_session``
rounds of one :class:`Quote` per symbol (simulated times between 09:30 and 16:00
America/New_York, tz-aware UTC; the last round is the close) and then a
:class:`SessionClose` at 16:00 New York time. With ``session_seconds > 0`` the stream is
paced in wall time (``asyncio.sleep``); 0 streams as fast as possible.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import numpy as np

from daemon.core.expiries import vix_expiries_after
from daemon.core.model import Bar, MarketEvent, Quote, SessionClose, Symbol
from daemon.errors import DataError
from daemon.sessions import sessions_from, xnys_sessions

NEW_YORK = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")
SESSION_OPEN = time(9, 30)
SESSION_MINUTES = 390
"""Regular session length, 09:30–16:00 New York."""

SYMBOLS: tuple[Symbol, ...] = (
    Symbol.SPX,
    Symbol.IWM,
    Symbol.VIX,
    Symbol.RVX,
    Symbol.VIX3M,
    Symbol.VX1,
    Symbol.VX2,
)

# Model constants (per trading day unless noted).
_SPX0 = 5900.0
_IWM0 = 225.0
_VIX_BASE = 14.5
_VIX_LONG_RUN = 19.0
"""L: long-run VIX level of the term structure (VIX3M and VX futures), points."""
_SPREAD0_PTS = 4.0
_KAPPA = 0.12
"""Mean-reversion speed of ln VIX per day (half-life ≈ 5.8 days)."""
_SIGMA_VIX = 0.055
"""Daily vol of ln VIX in calm (stress scales it by 1.5)."""
_SPX_VOL_TO_VIX = 0.85
"""Realised SPX vol as a fraction of the VIX (the variance risk premium)."""
_RHO_SPX_VIX = -0.75
_BETA_IWM = 1.15
_IDIO_IWM = 0.0015
"""Daily vol of the IWM/SPX ratio beyond beta (fraction)."""
_VX_DECAY_DAYS = 45.0
_TERM_WEIGHT = 0.6


class Regime(StrEnum):
    """Scripted market regimes of the simulator."""

    CALM = "calm"
    ROTATION = "rotation"
    STRESS = "stress"
    RECOVERY = "recovery"


@dataclass(frozen=True, slots=True, kw_only=True)
class _RegimeParams:
    vix_target_mult: float
    spx_drift: float
    ratio_drift: float
    spread_target_pts: float
    jump_prob: float
    vol_mult: float


_REGIMES: dict[Regime, _RegimeParams] = {
    Regime.CALM: _RegimeParams(
        vix_target_mult=1.0,
        spx_drift=0.0004,
        ratio_drift=0.0008,
        spread_target_pts=_SPREAD0_PTS,
        jump_prob=0.0,
        vol_mult=1.0,
    ),
    Regime.ROTATION: _RegimeParams(
        vix_target_mult=1.25,
        spx_drift=-0.0002,
        ratio_drift=-0.0035,
        spread_target_pts=5.0,
        jump_prob=0.02,
        vol_mult=1.1,
    ),
    Regime.STRESS: _RegimeParams(
        vix_target_mult=2.4,
        spx_drift=-0.0030,
        ratio_drift=-0.0020,
        spread_target_pts=10.0,
        jump_prob=0.10,
        vol_mult=1.5,
    ),
    Regime.RECOVERY: _RegimeParams(
        vix_target_mult=0.95,
        spx_drift=0.0015,
        ratio_drift=0.0035,
        spread_target_pts=_SPREAD0_PTS,
        jump_prob=0.0,
        vol_mult=1.0,
    ),
}
_STRESS_GAP = 0.35
"""VIX jump (log fraction ≈ +42 %) on the first stress session."""


def regime_at(index: int, sessions: int) -> Regime:
    """The scripted regime of session ``index`` (0-based) in a run of ``sessions``.

    Args:
        index: session index; negative indices (warm-up) are calm.
        sessions: total streamed sessions.

    Returns:
        calm [0, 25 %), rotation [25 %, 37.5 %), stress [37.5 %, 62.5 %), recovery after.
    """
    if index < 0:
        return Regime.CALM
    frac = index / sessions
    if frac < 0.25:
        return Regime.CALM
    if frac < 0.375:
        return Regime.ROTATION
    if frac < 0.625:
        return Regime.STRESS
    return Regime.RECOVERY


@dataclass(frozen=True, slots=True, kw_only=True)
class _Session:
    """One simulated session: tick prices per symbol (last = close), VX expiries, times."""

    day: date
    ticks: dict[Symbol, np.ndarray]
    expiries: dict[Symbol, date]
    tick_times: tuple[datetime, ...]
    close_time: datetime

    def bar(self, symbol: Symbol) -> Bar:
        """The session's OHLC bar of ``symbol`` from its ticks."""
        path = self.ticks[symbol]
        return Bar(
            symbol=symbol,
            session_date=self.day,
            open=float(path[0]),
            high=float(path.max()),
            low=float(path.min()),
            close=float(path[-1]),
            expiry=self.expiries.get(symbol),
        )


class _State:
    """Mutable latent state of the simulation (log levels)."""

    def __init__(self) -> None:
        self.ln_spx = math.log(_SPX0)
        self.ln_ratio = math.log(_IWM0 / _SPX0)
        self.ln_vix = math.log(_VIX_BASE)
        self.spread_pts = _SPREAD0_PTS


class SimSource:
    """Seeded simulator of SPX/IWM/VIX/RVX/VIX3M/VX1/VX2 with a scripted stress episode.

    Args:
        seed: seed of the numpy Generator (same seed → identical stream).
        sessions: streamed sessions (≥ 20).
        ticks_per_session: quote rounds per session (≥ 1); the last is the close.
        session_seconds: wall seconds per session when streaming (0 = no pacing).
        start: first streamed session (the first XNYS session on or after it).
        warmup_days: calm sessions generated before ``start`` for :meth:`history`.
        session_dates: explicit session dates (tests); default: XNYS sessions from ``start``.

    Raises:
        ValueError: invalid sizes or pacing.
    """

    def __init__(
        self,
        *,
        seed: int = 7,
        sessions: int = 160,
        ticks_per_session: int = 12,
        session_seconds: float = 2.0,
        start: date = date(2025, 1, 2),
        warmup_days: int = 300,
        session_dates: Sequence[date] | None = None,
    ) -> None:
        if sessions < 20 or ticks_per_session < 1 or warmup_days < 0 or session_seconds < 0:
            msg = (
                f"invalid simulator sizes: sessions={sessions} (≥ 20), ticks_per_session="
                f"{ticks_per_session} (≥ 1), warmup_days={warmup_days} (≥ 0), "
                f"session_seconds={session_seconds} (≥ 0)"
            )
            raise ValueError(msg)
        self._seed = seed
        self._n_sessions = sessions
        self._ticks = ticks_per_session
        self._session_seconds = session_seconds
        self._rng = np.random.Generator(np.random.PCG64(seed))
        days = tuple(session_dates) if session_dates is not None else sessions_from(start, sessions)
        if len(days) < sessions:
            msg = f"only {len(days)} session dates given for {sessions} sessions"
            raise ValueError(msg)
        self._days = days[:sessions]
        warm_days = _sessions_before(self._days[0], warmup_days)
        state = _State()
        self._warmup = [self._simulate(state, d, -1) for d in warm_days]
        self._run = [self._simulate(state, d, i) for i, d in enumerate(self._days)]
        self._resume_index = 0
        """First session :meth:`events` streams (:meth:`resume_after`)."""

    # ----------------------------------------------------------------- simulation

    def _simulate(self, state: _State, day: date, index: int) -> _Session:
        """Advance the state through one session of ``ticks`` sub-steps."""
        rng = self._rng
        n = self._ticks
        dt = 1.0 / n
        regime = regime_at(index, self._n_sessions)
        p = _REGIMES[regime]
        first_stress = (
            regime is Regime.STRESS and regime_at(index - 1, self._n_sessions) is not Regime.STRESS
        )
        ln_target = math.log(_VIX_BASE * p.vix_target_mult)
        ln_long = math.log(_VIX_LONG_RUN)
        expiries = vix_expiries_after(day, 2)
        tau = [(e - day).days for e in expiries]
        paths = {s: np.empty(n) for s in SYMBOLS}
        z = rng.standard_normal((n, 5))
        jumps = rng.random(n) < p.jump_prob * dt
        jump_sizes = rng.uniform(0.08, 0.25, n)
        for k in range(n):
            z_vix = z[k, 0]
            z_spx = _RHO_SPX_VIX * z_vix + math.sqrt(1 - _RHO_SPX_VIX**2) * z[k, 1]
            vix = math.exp(state.ln_vix)
            sigma_spx = vix / 100.0 / math.sqrt(252.0) * _SPX_VOL_TO_VIX
            d_vix = (
                _KAPPA * (ln_target - state.ln_vix) * dt
                + _SIGMA_VIX * p.vol_mult * math.sqrt(dt) * z_vix
            )
            if jumps[k]:
                d_vix += jump_sizes[k]
            if first_stress and k == 0:
                d_vix += _STRESS_GAP
            r_spx = (p.spx_drift - 0.5 * sigma_spx**2) * dt + sigma_spx * math.sqrt(dt) * z_spx
            if jumps[k] or (first_stress and k == 0):
                r_spx -= 0.01 * (
                    d_vix / 0.2
                )  # a VIX jump comes with an SPX drop (≈ −1 % per +20 %)
            d_ratio = (
                (_BETA_IWM - 1.0) * r_spx
                + p.ratio_drift * dt
                + _IDIO_IWM * p.vol_mult * math.sqrt(dt) * z[k, 2]
            )
            state.ln_vix += d_vix
            state.ln_spx += r_spx
            state.ln_ratio += d_ratio
            state.spread_pts += (
                0.25 * (p.spread_target_pts - state.spread_pts) * dt + 0.2 * math.sqrt(dt) * z[k, 3]
            )
            vix = math.exp(state.ln_vix)
            spx = math.exp(state.ln_spx)
            paths[Symbol.VIX][k] = round(vix, 2)
            paths[Symbol.SPX][k] = round(spx, 2)
            paths[Symbol.IWM][k] = round(spx * math.exp(state.ln_ratio), 2)
            paths[Symbol.RVX][k] = round(max(vix + state.spread_pts, vix * 1.02), 2)
            ln_3m = _TERM_WEIGHT * state.ln_vix + (1 - _TERM_WEIGHT) * ln_long + 0.01 * z[k, 4]
            paths[Symbol.VIX3M][k] = round(math.exp(ln_3m), 2)
            for sym, t in zip((Symbol.VX1, Symbol.VX2), tau, strict=True):
                decay = math.exp(-t / _VX_DECAY_DAYS)
                fut = math.exp(ln_long + (state.ln_vix - ln_long) * decay + 0.005 * z[k, 4])
                paths[sym][k] = round(fut, 2)
        times = tuple(_tick_time(day, k, n) for k in range(n))
        return _Session(
            day=day,
            ticks=paths,
            expiries={Symbol.VX1: expiries[0], Symbol.VX2: expiries[1]},
            tick_times=times,
            close_time=_tick_time(day, n - 1, n),
        )

    # ----------------------------------------------------------------- inspection

    @property
    def sessions(self) -> tuple[date, ...]:
        """The streamed session dates, ascending."""
        return self._days

    @property
    def seed(self) -> int:
        """The generator seed."""
        return self._seed

    def closes(self, symbol: Symbol) -> tuple[float, ...]:
        """Closes of ``symbol`` over the streamed sessions (what the stream ends each day with)."""
        return tuple(float(s.ticks[symbol][-1]) for s in self._run)

    def regimes(self) -> tuple[Regime, ...]:
        """The scripted regime of each streamed session."""
        return tuple(regime_at(i, self._n_sessions) for i in range(self._n_sessions))

    def rejected_count(self) -> int:
        """Always 0: the simulator emits only valid quotes."""
        return 0

    # ----------------------------------------------------------------- MarketDataSource

    async def history(self, symbol: Symbol, days: int) -> Sequence[Bar]:
        """Calm warm-up bars before the first session (up to ``warmup_days``), oldest first.

        Raises:
            DataError: ``days`` > 0 but the simulator was built with no warm-up.
        """
        if days <= 0 or symbol not in SYMBOLS:
            return ()
        if not self._warmup:
            msg = "simulator has no warm-up history (warmup_days=0)"
            raise DataError(msg)
        return tuple(s.bar(symbol) for s in self._warmup[-days:])

    def resume_after(self, day: date) -> int:
        """Stream only the sessions after ``day`` (a restart from a snapshot of ``day``).

        The path is the same seeded path (every session is still simulated), so the
        sessions that follow are exactly those an uninterrupted run streams.

        Returns:
            How many sessions were dropped.
        """
        self._resume_index = sum(1 for d in self._days if d <= day)
        return self._resume_index

    async def events(self) -> AsyncGenerator[MarketEvent, None]:
        """Yield ``ticks_per_session`` quote rounds then a ``SessionClose``, per session."""
        pause = self._session_seconds / self._ticks if self._session_seconds > 0 else 0.0
        for session in self._run[self._resume_index :]:
            for k, ts in enumerate(session.tick_times):
                for symbol in SYMBOLS:
                    yield Quote(
                        symbol=symbol,
                        price=float(session.ticks[symbol][k]),
                        ts=ts,
                        session_date=session.day,
                        expiry=session.expiries.get(symbol),
                    )
                await asyncio.sleep(pause)
            yield SessionClose(session_date=session.day, ts=session.close_time)


def _tick_time(day: date, k: int, n: int) -> datetime:
    """Time of tick ``k`` of ``n``: evenly spaced, the last at 16:00 New York, as UTC."""
    open_ny = datetime.combine(day, SESSION_OPEN, tzinfo=NEW_YORK)
    minutes = SESSION_MINUTES * (k + 1) / n
    return (open_ny + timedelta(minutes=minutes)).astimezone(UTC)


def _sessions_before(first: date, count: int) -> tuple[date, ...]:
    """The ``count`` XNYS sessions strictly before ``first``."""
    if count == 0:
        return ()
    span = timedelta(days=int(count * 1.6) + 15)
    found = xnys_sessions(first - span, first - timedelta(days=1))
    return found[-count:]
