"""The ten SPEC §3 signals, computed by streaming indicators (O(1) per close).

``SignalBook`` commits one set of daily closes per session (``on_close``) and evaluates the
signals either on the committed state or *provisionally* at intraday prices treated as
today's close (``evaluate(prices=...)``, SPEC §2), which only ``peek()``s the indicators
and never changes state. Every reading carries its value, threshold, whether it holds and
a human ``detail`` line, so an alert can say why (SPEC §3, last paragraph).

Inputs. ``ratio`` is the IWM close divided by the SPX close (both unadjusted prices). Daily
returns are simple returns between consecutive committed sessions: ``close/prev_close − 1``.

Readings (value, threshold, holds):

==========================  =====================================================  =========
id                          value (units)                                          holds
==========================  =====================================================  =========
``ratio_macd_negative``     MACD line EMA12 − EMA26 of the ratio (ratio units)     < 0
``vix_rsi_hot``             RSI(14, Wilder) of VIX (0–100)                         > 70
``vix_macd_bull_cross``     VIX MACD line − its EMA9 signal line (VIX points)      > 0
``ratio_rsi_weak``          RSI(14, Wilder) of the ratio (0–100)                   < 30
``iv_spread_blowout``       (spread − mean) / |mean| (fraction), spread = RVX−VIX  > 0.25
``small_cap_below_ma``      (IWM / SMA50(IWM) − 1) × 100 (percent)                 < 0
``big_move``                max(|SPX/ref − 1|, |IWM/ref − 1|) × 100 (percent)      >= 3
``event_window``            sessions until the next macro event (0 = today)        <= 2
``backwardation``           VIX / VIX3M (ratio)                                    > 1.0
``ad_divergence``           None: no breadth feed is configured                    never
==========================  =====================================================  =========

Thresholds come from ``SignalParams`` (the numbers above are the SPEC defaults).

Definitions that the SPEC leaves open, fixed here:

- ``iv_spread_blowout``: the mean is over the last ``iv_spread_mean_days`` (90) sessions
  that had an RVX close, *including today's* spread. A session without RVX feeds nothing:
  its reading is ``None``/False. ``value`` is ``None`` when the mean is exactly 0.
- ``small_cap_below_ma``: holds on the 50-day SMA; the detail line also says whether IWM is
  below the 200-day SMA (the SPEC's "stronger" form).
- ``event_window``: with ``sessions`` the sorted trading days, it holds when a macro event
  day ``d`` satisfies ``today <= d <= sessions[i + event_window_days]``, where ``sessions[i]``
  is the first session on or after today. ``value`` is the smallest ``k`` with
  ``sessions[i + k] >= d`` for the next event; ``None`` when the calendar has no event on or
  after today or the sessions end before it.
- ``big_move``: compares the provisional prices (or the last closes) of SPX and IWM to the
  prices at the last rebalance; without a reference it is ``None``/False.
- ``spx_pct_per_vix_pt`` (SPEC §5 β_vix): slope of SPX daily % return (× 100) on the VIX
  daily point change over ``ScenarioParams.beta_days`` (90) sessions.
- ``beta_iwm_spx_30d`` / ``_90d``: slope of IWM daily return on SPX daily return over
  ``beta_short_days`` (30) and ``beta_days`` (90) sessions.

A value is a finite float or ``None``; ``holds`` is False whenever ``value`` is ``None``.

The readings themselves (value, threshold, holds, detail) are computed from the indicator
outputs by :func:`daemon.core.readings.signal_readings`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from daemon.core.fastinit import fast_init
from daemon.core.indicators import Macd, RollingBeta, RollingMean, Rsi, Sma
from daemon.core.model import REQUIRED_SYMBOLS, Bar, SignalReading, Symbol
from daemon.core.params import MacroEvent, ScenarioParams, SignalParams
from daemon.core.readings import (
    EventCalendar,
    SignalValues,
    checked_price,
    finite_or_none,
    signal_readings,
)
from daemon.errors import InvariantViolation

# enum members as module constants: a class attribute lookup costs ~65 ns on the hot
# paths (issue 9)
_SYMBOL_SPX = Symbol.SPX
_SYMBOL_IWM = Symbol.IWM
_SYMBOL_VIX = Symbol.VIX
_SYMBOL_RVX = Symbol.RVX
_SYMBOL_VIX3M = Symbol.VIX3M

_INF = math.inf

__all__ = ["SIGNAL_IDS", "SignalBook", "SignalSnapshot"]

SIGNAL_IDS: tuple[str, ...] = (
    "ratio_macd_negative",
    "vix_rsi_hot",
    "vix_macd_bull_cross",
    "ratio_rsi_weak",
    "iv_spread_blowout",
    "small_cap_below_ma",
    "big_move",
    "event_window",
    "backwardation",
    "ad_divergence",
)
"""The SPEC §3 signal ids, in SPEC order."""

_SIGNAL_AT: dict[str, int] = {signal_id: i for i, signal_id in enumerate(SIGNAL_IDS)}
"""Position of each reading in a snapshot (``SignalSnapshot.get``)."""

_STATE_VERSION = 1


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class SignalSnapshot:
    """All SPEC §3 readings at one evaluation, plus the raw indicator values behind them.

    Attributes:
        session_date: the trading day evaluated.
        is_provisional: True when intraday prices were treated as today's close.
        readings: all 10 SPEC §3 readings, in ``SIGNAL_IDS`` order.
        ratio_macd_line: MACD line of the IWM/SPX close ratio (ratio units).
        ratio_rsi: Wilder RSI(14) of the ratio, 0–100.
        vix_rsi: Wilder RSI(14) of VIX, 0–100.
        vix_macd_line: VIX MACD line, VIX points.
        vix_macd_signal: EMA9 of the VIX MACD line, VIX points.
        iv_spread_pts: RVX − VIX today, points (``None`` without RVX).
        iv_spread_mean_pts: mean of RVX − VIX over the last ``iv_spread_mean_days`` sessions
            with RVX, including today's when RVX is known today, points.
        term_ratio: VIX / VIX3M (``None`` without VIX3M).
        spx_pct_per_vix_pt: 90-session slope of SPX daily % return on VIX daily point
            change, percent per VIX point (SPEC §5 β_vix; typically −0.5…−1).
        beta_iwm_spx_30d: 30-session slope of IWM daily return on SPX daily return.
        beta_iwm_spx_90d: 90-session slope of IWM daily return on SPX daily return.
    """

    session_date: date
    is_provisional: bool
    readings: tuple[SignalReading, ...]
    ratio_macd_line: float | None
    ratio_rsi: float | None
    vix_rsi: float | None
    vix_macd_line: float | None
    vix_macd_signal: float | None
    iv_spread_pts: float | None
    iv_spread_mean_pts: float | None
    term_ratio: float | None
    spx_pct_per_vix_pt: float | None
    beta_iwm_spx_30d: float | None
    beta_iwm_spx_90d: float | None

    def get(self, signal_id: str) -> SignalReading:
        """The reading with id ``signal_id``.

        Raises:
            KeyError: ``signal_id`` is not one of ``SIGNAL_IDS``.
        """
        # readings are in SIGNAL_IDS order: one index, checked (else the scan)
        at = _SIGNAL_AT.get(signal_id)
        readings = self.readings
        if at is not None and at < len(readings) and readings[at].id == signal_id:
            return readings[at]
        for reading in readings:
            if reading.id == signal_id:
                return reading
        raise KeyError(signal_id)


class SignalBook:
    """Streaming state of the SPEC §3 signals; one ``on_close`` per trading session.

    Args:
        params: signal periods and thresholds (SPEC §3).
        scenario: regression windows ``beta_days`` / ``beta_short_days`` (SPEC §5).
        macro_events: the FOMC/CPI/PPI calendar (any order; sorted here).
        sessions: the trading days (XNYS) covering the calendar, used by ``event_window``
            (any order; sorted and de-duplicated here).
    """

    def __init__(
        self,
        params: SignalParams,
        scenario: ScenarioParams,
        macro_events: Sequence[MacroEvent],
        sessions: Sequence[date],
    ) -> None:
        self._params = params
        self._scenario = scenario
        self._calendar = EventCalendar(macro_events, sessions)
        self._ratio_macd = Macd(params.macd_fast, params.macd_slow, params.macd_signal)
        self._ratio_rsi = Rsi(params.rsi_period)
        self._vix_macd = Macd(params.macd_fast, params.macd_slow, params.macd_signal)
        self._vix_rsi = Rsi(params.rsi_period)
        self._spread_mean = RollingMean(params.iv_spread_mean_days)
        self._iwm_sma_fast = Sma(params.iwm_sma_fast_days)
        self._iwm_sma_slow = Sma(params.iwm_sma_slow_days)
        self._beta_vix = RollingBeta(scenario.beta_days)
        self._beta_iwm_short = RollingBeta(scenario.beta_short_days)
        self._beta_iwm_long = RollingBeta(scenario.beta_days)
        self._last_closes: dict[Symbol, float] = {}
        self._last_session: date | None = None

    # ------------------------------------------------------------------ commits

    def warm_up(self, bars: Mapping[Symbol, Sequence[Bar]]) -> None:
        """Commit historical daily bars, one session at a time in date order.

        The sessions are the SPX bar dates; other series are aligned on them (an inner join
        on date). A session where IWM or VIX has no bar is skipped; a missing optional value
        (RVX, VIX3M, VX1, VX2) on a session is simply not fed. Sessions on or before
        ``last_session`` are skipped, so warming up after ``load_state`` is safe.

        Args:
            bars: daily bars per symbol (closes in index points / USD per share).

        Raises:
            InvariantViolation: a close is not a positive finite number.
        """
        by_symbol = {
            symbol: {bar.session_date: bar.close for bar in series}
            for symbol, series in bars.items()
        }
        for day in sorted(by_symbol.get(_SYMBOL_SPX, {})):
            if self._last_session is not None and day <= self._last_session:
                continue
            closes = {symbol: days[day] for symbol, days in by_symbol.items() if day in days}
            if all(symbol in closes for symbol in REQUIRED_SYMBOLS):
                self.on_close(day, closes)

    def on_close(self, session_date: date, closes: Mapping[Symbol, float]) -> None:
        """Commit one session's closing prices.

        Args:
            session_date: the trading day; must be later than ``last_session``.
            closes: closes per symbol; SPX, IWM and VIX required, RVX/VIX3M/VX1/VX2 optional.

        Raises:
            InvariantViolation: a required close is absent, a close is not a positive finite
                number, or ``session_date`` is not after ``last_session`` (a repeated or
                older session).
        """
        if self._last_session is not None and session_date <= self._last_session:
            raise InvariantViolation(
                f"on_close({session_date}): not after the last session {self._last_session}"
            )
        checked: dict[Symbol, float] = {}
        for symbol, raw in closes.items():
            price = raw if raw.__class__ is float else float(raw)  # no call for a float
            if not 0.0 < price < math.inf:  # NaN too: the named error (checked_price)
                checked_price(closes, symbol, f"on_close({session_date})")
            checked[symbol] = price
        if not checked.keys() >= REQUIRED_SYMBOLS:  # in C; the list only when one is missing
            missing = sorted(s.value for s in REQUIRED_SYMBOLS if s not in checked)
            raise InvariantViolation(f"on_close({session_date}): missing closes for {missing}")
        spx, iwm, vix = checked[_SYMBOL_SPX], checked[_SYMBOL_IWM], checked[_SYMBOL_VIX]
        ratio = iwm / spx
        self._ratio_macd.update(ratio)
        self._ratio_rsi.update(ratio)
        self._vix_macd.update(vix)
        self._vix_rsi.update(vix)
        self._iwm_sma_fast.update(iwm)
        self._iwm_sma_slow.update(iwm)
        rvx = checked.get(_SYMBOL_RVX)
        if rvx is not None:
            self._spread_mean.update(rvx - vix)
        prev = self._last_closes
        if self._last_session is not None:
            spx_ret = spx / prev[_SYMBOL_SPX] - 1.0
            iwm_ret = iwm / prev[_SYMBOL_IWM] - 1.0
            self._beta_vix.update(vix - prev[_SYMBOL_VIX], spx_ret * 100.0)
            self._beta_iwm_short.update(spx_ret, iwm_ret)
            self._beta_iwm_long.update(spx_ret, iwm_ret)
        self._last_closes = checked
        self._last_session = session_date

    # ------------------------------------------------------------------ evaluation

    def evaluate(
        self,
        session_date: date,
        prices: Mapping[Symbol, float] | None = None,
        *,
        rebalance_ref: Mapping[Symbol, float] | None = None,
    ) -> SignalSnapshot:
        """Evaluate all SPEC §3 signals.

        With ``prices`` None, the readings are those of the committed state (after the last
        ``on_close``). With ``prices`` and ``session_date`` after ``last_session``, the
        indicators ``peek()`` at ``prices`` as if they were today's closes
        (``is_provisional=True``); no state changes. A symbol absent from ``prices`` makes
        the readings that need it ``None``/False. With ``prices`` and ``session_date`` equal
        to ``last_session`` (today already closed), the committed readings are returned and
        ``prices`` only feed ``big_move``.

        Args:
            session_date: the trading day being evaluated (``event_window`` counts from it).
            prices: current prices per symbol, or None for the committed state.
            rebalance_ref: SPX/IWM prices at the last rebalance, for ``big_move``
                (None → ``big_move`` is None/False).

        Returns:
            The snapshot; readings in ``SIGNAL_IDS`` order.

        Raises:
            InvariantViolation: ``session_date`` is before ``last_session``, or a price is
                not a positive finite number.
        """
        if self._last_session is not None and session_date < self._last_session:
            raise InvariantViolation(
                f"evaluate({session_date}): before the last committed session {self._last_session}"
            )
        is_provisional = prices is not None and session_date != self._last_session
        if prices is not None and is_provisional:
            values = self._peek_values(prices)
        else:
            values = self._committed_values()
        current = self._last_closes if prices is None else prices
        readings = signal_readings(
            values,
            self._params,
            today=session_date,
            current=current,
            rebalance_ref=rebalance_ref,
            calendar=self._calendar,
        )
        return SignalSnapshot(
            session_date=session_date,
            is_provisional=is_provisional,
            readings=readings,
            ratio_macd_line=values.ratio_macd_line,
            ratio_rsi=values.ratio_rsi,
            vix_rsi=values.vix_rsi,
            vix_macd_line=values.vix_macd_line,
            vix_macd_signal=values.vix_macd_signal,
            iv_spread_pts=values.iv_spread_pts,
            iv_spread_mean_pts=values.iv_spread_mean_pts,
            term_ratio=values.term_ratio,
            spx_pct_per_vix_pt=values.spx_pct_per_vix_pt,
            beta_iwm_spx_30d=values.beta_iwm_spx_30d,
            beta_iwm_spx_90d=values.beta_iwm_spx_90d,
        )

    def _committed_values(self) -> SignalValues:
        closes = self._last_closes
        spx, iwm, vix = closes.get(_SYMBOL_SPX), closes.get(_SYMBOL_IWM), closes.get(_SYMBOL_VIX)
        rvx, vix3m = closes.get(_SYMBOL_RVX), closes.get(_SYMBOL_VIX3M)
        raw = (  # SignalValues' fields after spx and iwm, in their order
            self._ratio_macd.line,
            self._ratio_rsi.value,
            self._vix_rsi.value,
            self._vix_macd.line,
            self._vix_macd.signal_line,
            rvx - vix if rvx is not None and vix is not None else None,
            self._spread_mean.value,
            self._iwm_sma_fast.value,
            self._iwm_sma_slow.value,
            vix / vix3m if vix is not None and vix3m is not None else None,
            self._beta_vix.value,
            self._beta_iwm_short.value,
            self._beta_iwm_long.value,
        )
        # finite_or_none of each, in one pass (no call per value; issue 9); the tuple is
        # built whole (every field in order: spx, iwm, then ``raw``'s), not argument by
        # argument through the named tuple's __new__
        return tuple.__new__(
            SignalValues,
            [spx, iwm, *[v if v is not None and -_INF < v < _INF else None for v in raw]],
        )

    def _peek_values(self, prices: Mapping[Symbol, float]) -> SignalValues:
        what = "evaluate(prices)"
        spx = checked_price(prices, _SYMBOL_SPX, what)
        iwm = checked_price(prices, _SYMBOL_IWM, what)
        vix = checked_price(prices, _SYMBOL_VIX, what)
        rvx = checked_price(prices, _SYMBOL_RVX, what)
        vix3m = checked_price(prices, _SYMBOL_VIX3M, what)
        ratio_line = ratio_rsi = vix_line = vix_signal = vix_rsi = None
        if spx is not None and iwm is not None:
            ratio = iwm / spx
            ratio_line, _ = self._ratio_macd.peek(ratio)
            ratio_rsi = self._ratio_rsi.peek(ratio)
        if vix is not None:
            vix_line, vix_signal = self._vix_macd.peek(vix)
            vix_rsi = self._vix_rsi.peek(vix)
        spread = spread_mean = None
        if rvx is not None and vix is not None:
            spread = rvx - vix
            spread_mean = self._spread_mean.peek(spread)
        else:
            spread_mean = self._spread_mean.value
        beta_vix = beta_short = beta_long = None
        prev = self._last_closes
        if self._last_session is not None and spx is not None:
            spx_ret = spx / prev[_SYMBOL_SPX] - 1.0
            if vix is not None:
                beta_vix = self._beta_vix.peek(vix - prev[_SYMBOL_VIX], spx_ret * 100.0)
            if iwm is not None:
                iwm_ret = iwm / prev[_SYMBOL_IWM] - 1.0
                beta_short = self._beta_iwm_short.peek(spx_ret, iwm_ret)
                beta_long = self._beta_iwm_long.peek(spx_ret, iwm_ret)
        return SignalValues(
            spx=spx,
            iwm=iwm,
            ratio_macd_line=finite_or_none(ratio_line),
            ratio_rsi=finite_or_none(ratio_rsi),
            vix_rsi=finite_or_none(vix_rsi),
            vix_macd_line=finite_or_none(vix_line),
            vix_macd_signal=finite_or_none(vix_signal),
            iv_spread_pts=finite_or_none(spread),
            iv_spread_mean_pts=finite_or_none(spread_mean),
            iwm_sma_fast=finite_or_none(self._iwm_sma_fast.peek(iwm)) if iwm is not None else None,
            iwm_sma_slow=finite_or_none(self._iwm_sma_slow.peek(iwm)) if iwm is not None else None,
            term_ratio=finite_or_none(vix / vix3m)
            if vix is not None and vix3m is not None
            else None,
            spx_pct_per_vix_pt=finite_or_none(beta_vix),
            beta_iwm_spx_30d=finite_or_none(beta_short),
            beta_iwm_spx_90d=finite_or_none(beta_long),
        )

    # ------------------------------------------------------------------ snapshots

    def _indicators(self) -> dict[str, Macd | Rsi | Sma | RollingBeta]:
        return {
            "ratio_macd": self._ratio_macd,
            "ratio_rsi": self._ratio_rsi,
            "vix_macd": self._vix_macd,
            "vix_rsi": self._vix_rsi,
            "iv_spread_mean": self._spread_mean,
            "iwm_sma_fast": self._iwm_sma_fast,
            "iwm_sma_slow": self._iwm_sma_slow,
            "spx_pct_per_vix_pt": self._beta_vix,
            "beta_iwm_spx_short": self._beta_iwm_short,
            "beta_iwm_spx_long": self._beta_iwm_long,
        }

    def state(self) -> dict[str, Any]:
        """JSON-able snapshot of the committed state (indicators, last closes, last session).

        The macro calendar and sessions are constructor inputs, not part of the state.
        """
        return {
            "version": _STATE_VERSION,
            "last_session": None if self._last_session is None else self._last_session.isoformat(),
            "last_closes": {symbol.value: price for symbol, price in self._last_closes.items()},
            "indicators": {name: ind.state() for name, ind in self._indicators().items()},
        }

    def load_state(self, d: Mapping[str, Any]) -> None:
        """Restore a snapshot made by ``state()``; later readings are identical.

        Raises:
            InvariantViolation: unknown version, or the snapshot was made with other
                indicator periods (re-warm from history instead).
        """
        if d.get("version") != _STATE_VERSION:
            raise InvariantViolation(f"SignalBook state version {d.get('version')!r} unsupported")
        states = d["indicators"]
        for name, indicator in self._indicators().items():
            indicator.load_state(states[name])
        last = d["last_session"]
        self._last_session = None if last is None else date.fromisoformat(last)
        self._last_closes = {Symbol(k): float(v) for k, v in d["last_closes"].items()}

    @property
    def last_closes(self) -> Mapping[Symbol, float]:
        """The closes committed at ``last_session`` (only the symbols given that day)."""
        return dict(self._last_closes)

    @property
    def last_session(self) -> date | None:
        """The last committed trading day, ``None`` before the first ``on_close``."""
        return self._last_session
