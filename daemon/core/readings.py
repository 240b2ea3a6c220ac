"""The SPEC §3 readings: value, threshold, whether it holds, and a human detail line.

:func:`signal_readings` turns the indicator outputs of one evaluation
(:class:`SignalValues`, committed or peeked by :class:`daemon.core.signals.SignalBook`)
into the ten readings, in ``SIGNAL_IDS`` order. The ids, units and conditions, and every
definition the SPEC left open, are in :mod:`daemon.core.signals`' docstring; this module
is their code. A reading whose inputs are missing (warming up, no RVX/VIX3M, no rebalance
reference, no event in the calendar) has ``value`` None and ``holds`` False, and its
detail says why.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from datetime import date
from typing import NamedTuple

from daemon.core.model import SignalReading, Symbol, new_reading
from daemon.core.params import MacroEvent, SignalParams
from daemon.errors import InvariantViolation

_INF = math.inf

__all__ = ["EventCalendar", "SignalValues", "checked_price", "finite_or_none", "signal_readings"]


class EventCalendar:
    """The macro-event calendar and the trading sessions ``event_window`` counts in.

    Args:
        macro_events: the FOMC/CPI/PPI calendar (any order; sorted here).
        sessions: the trading days (XNYS) covering the calendar (any order; sorted and
            de-duplicated here).
    """

    def __init__(self, macro_events: Sequence[MacroEvent], sessions: Sequence[date]) -> None:
        self.events: tuple[MacroEvent, ...] = tuple(sorted(macro_events, key=lambda e: e.day))
        self.event_days: tuple[date, ...] = tuple(e.day for e in self.events)
        kinds: dict[date, list[str]] = {}
        for e in self.events:
            kinds.setdefault(e.day, []).append(e.kind.value)
        self.kinds_on: dict[date, str] = {day: "+".join(k) for day, k in kinds.items()}
        """The event kinds of each event day, ``"+"``-joined in calendar order ("FOMC+CPI"):
        built once, not by scanning every event on each evaluation (issue 9)."""
        self.sessions: tuple[date, ...] = tuple(sorted(set(sessions)))


class SignalValues(NamedTuple):
    """Indicator outputs for one evaluation (committed or peeked); every field finite/None.

    A named tuple (immutable; the cheapest value to build, once per evaluation: issue 9);
    internal to the signal book and its readings.
    """

    spx: float | None
    iwm: float | None
    ratio_macd_line: float | None
    ratio_rsi: float | None
    vix_rsi: float | None
    vix_macd_line: float | None
    vix_macd_signal: float | None
    iv_spread_pts: float | None
    iv_spread_mean_pts: float | None
    iwm_sma_fast: float | None
    iwm_sma_slow: float | None
    term_ratio: float | None
    spx_pct_per_vix_pt: float | None
    beta_iwm_spx_30d: float | None
    beta_iwm_spx_90d: float | None


def finite_or_none(v: float | None) -> float | None:
    """``v`` if it is a finite float, else ``None`` (no NaN/inf leaves this module)."""
    return v if v is not None and math.isfinite(v) else None


def checked_price(prices: Mapping[Symbol, float], symbol: Symbol, what: str) -> float | None:
    """A validated positive finite price, or ``None`` when ``symbol`` is absent.

    Raises:
        InvariantViolation: the price is NaN, infinite or <= 0 (the edge must reject those).
    """
    raw = prices.get(symbol)
    if raw is None:
        return None
    value = float(raw)
    if not math.isfinite(value) or value <= 0.0:
        raise InvariantViolation(f"{what}: {symbol} price {raw!r} is not a positive finite number")
    return value


def signal_readings(
    v: SignalValues,
    p: SignalParams,
    *,
    today: date,
    current: Mapping[Symbol, float],
    rebalance_ref: Mapping[Symbol, float] | None,
    calendar: EventCalendar,
) -> tuple[SignalReading, ...]:
    """The ten SPEC §3 readings of one evaluation, in ``SIGNAL_IDS`` order.

    Args:
        v: the indicator outputs (committed or peeked).
        p: signal periods and thresholds.
        today: the trading day evaluated (``event_window`` counts from it).
        current: the prices ``big_move`` compares (provisional prices or last closes).
        rebalance_ref: SPX/IWM at the last rebalance (None → ``big_move`` None/False).
        calendar: the macro events and trading sessions.

    Raises:
        InvariantViolation: a ``big_move`` price is not a positive finite number.
    """
    return (
        _ratio_macd_reading(v, p),
        _vix_rsi_reading(v, p),
        _vix_macd_reading(v, p),
        _ratio_rsi_reading(v, p),
        _iv_spread_reading(v, p),
        _small_cap_reading(v, p),
        _big_move_reading(current, rebalance_ref, p),
        _event_window_reading(today, calendar, p),
        _backwardation_reading(v, p),
        _AD_DIVERGENCE,
    )


_AD_DIVERGENCE = new_reading("ad_divergence", None, 0.0, False, "no breadth feed configured")
"""The ``ad_divergence`` reading: always unknown (no breadth feed); one immutable value."""


def _ratio_macd_reading(v: SignalValues, p: SignalParams) -> SignalReading:
    line = v.ratio_macd_line
    if line is None:
        name = f"MACD({p.macd_fast},{p.macd_slow}) of IWM/SPX"
        return _unknown("ratio_macd_negative", 0.0, f"{name}: not available (warming up)")
    holds = line < 0.0
    return new_reading(
        "ratio_macd_negative",
        line,
        0.0,
        holds,
        "MACD({},{}) of IWM/SPX = {:.6f} {} 0",
        (p.macd_fast, p.macd_slow, line, "<" if holds else ">="),
    )


def _vix_rsi_reading(v: SignalValues, p: SignalParams) -> SignalReading:
    rsi = v.vix_rsi
    if rsi is None:
        name = f"RSI({p.rsi_period}, Wilder) of VIX"
        return _unknown("vix_rsi_hot", p.vix_rsi_hot, f"{name}: not available (warming up)")
    holds = rsi > p.vix_rsi_hot
    return new_reading(
        "vix_rsi_hot",
        rsi,
        p.vix_rsi_hot,
        holds,
        "RSI({}, Wilder) of VIX = {:.1f} {} {:g}",
        (p.rsi_period, rsi, ">" if holds else "<=", p.vix_rsi_hot),
    )


def _vix_macd_reading(v: SignalValues, p: SignalParams) -> SignalReading:
    line, sig = v.vix_macd_line, v.vix_macd_signal
    if line is None or sig is None:
        name = f"VIX MACD({p.macd_fast},{p.macd_slow}) line"
        return _unknown("vix_macd_bull_cross", 0.0, f"{name} vs signal: not available (warming up)")
    diff = line - sig
    holds = diff > 0.0
    return new_reading(
        "vix_macd_bull_cross",
        diff,
        0.0,
        holds,
        "VIX MACD({},{}) line {:.3f} {} its EMA{} signal {:.3f} (diff {:+.3f} pts)",
        (
            p.macd_fast,
            p.macd_slow,
            line,
            "above" if holds else "not above",
            p.macd_signal,
            sig,
            diff,
        ),
    )


def _ratio_rsi_reading(v: SignalValues, p: SignalParams) -> SignalReading:
    rsi = v.ratio_rsi
    if rsi is None:
        name = f"RSI({p.rsi_period}, Wilder) of IWM/SPX"
        return _unknown("ratio_rsi_weak", p.ratio_rsi_weak, f"{name}: not available (warming up)")
    holds = rsi < p.ratio_rsi_weak
    return new_reading(
        "ratio_rsi_weak",
        rsi,
        p.ratio_rsi_weak,
        holds,
        "RSI({}, Wilder) of IWM/SPX = {:.1f} {} {:g}",
        (p.rsi_period, rsi, "<" if holds else ">=", p.ratio_rsi_weak),
    )


def _iv_spread_reading(v: SignalValues, p: SignalParams) -> SignalReading:
    frac = p.iv_spread_blowout_frac
    spread, mean = v.iv_spread_pts, v.iv_spread_mean_pts
    if spread is None:
        return _unknown("iv_spread_blowout", frac, "RVX−VIX: no RVX close/quote for today")
    if mean is None:
        return _unknown(
            "iv_spread_blowout",
            frac,
            f"RVX−VIX = {spread:.2f} pts; {p.iv_spread_mean_days}-day mean not available",
        )
    if mean == 0.0:
        return _unknown("iv_spread_blowout", frac, f"RVX−VIX = {spread:.2f} pts; mean is exactly 0")
    excess = finite_or_none((spread - mean) / abs(mean))
    if excess is None:  # pragma: no cover - mean != 0 and both finite
        return _unknown("iv_spread_blowout", frac, "RVX−VIX: excess not finite")
    holds = excess > frac
    bar = mean + frac * abs(mean)
    return new_reading(
        "iv_spread_blowout",
        excess,
        frac,
        holds,
        ("RVX−VIX = {:.2f} pts {} {:.2f} ({}-day mean {:.2f} + {:.0%} of |mean|); excess {:+.1%}"),
        (
            spread,
            ">" if holds else "<=",
            bar,
            p.iv_spread_mean_days,
            mean,
            frac,
            excess,
        ),
    )


def _small_cap_reading(v: SignalValues, p: SignalParams) -> SignalReading:
    iwm, fast, slow = v.iwm, v.iwm_sma_fast, v.iwm_sma_slow
    if iwm is None or fast is None:
        return _unknown(
            "small_cap_below_ma",
            0.0,
            f"IWM vs SMA{p.iwm_sma_fast_days}: not available (no price or warming up)",
        )
    gap_pct = (iwm / fast - 1.0) * 100.0
    holds = gap_pct < 0.0
    stronger_args: tuple[object, ...]
    if slow is None:
        stronger, stronger_args = "SMA{} not available", (p.iwm_sma_slow_days,)
    else:
        stronger = "also below SMA{} {:.2f}" if iwm < slow else "not below SMA{} {:.2f}"
        stronger_args = (p.iwm_sma_slow_days, slow)
    return new_reading(
        "small_cap_below_ma",
        gap_pct,
        0.0,
        holds,
        "IWM {:.2f} is {:.2f}% {} SMA{} {:.2f}; " + stronger,
        (
            iwm,
            abs(gap_pct),
            "below" if holds else "above",
            p.iwm_sma_fast_days,
            fast,
            *stronger_args,
        ),
    )


def _big_move_reading(
    current: Mapping[Symbol, float], ref: Mapping[Symbol, float] | None, p: SignalParams
) -> SignalReading:
    threshold = p.big_move_pct
    if ref is None:
        return _unknown("big_move", threshold, "no rebalance reference yet")
    # SPX then IWM; a price is checked (checked_price) only when it is not a positive
    # finite number, and that raises: good prices cost no call (issue 9)
    args: list[object] = []
    value = -1.0
    for symbol in _BIG_MOVE_SYMBOLS:
        now, then = current.get(symbol), ref.get(symbol)
        if now is not None and not 0.0 < now < _INF:
            checked_price(current, symbol, "big_move")
        if then is not None and not 0.0 < then < _INF:
            checked_price(ref, symbol, "big_move reference")
        if now is not None and then is not None:
            move = (now / then - 1.0) * 100.0
            args += (symbol, move)
            value = max(value, abs(move))
    if not args:
        return _unknown("big_move", threshold, "no SPX/IWM price with a rebalance reference")
    if not value < _INF:  # pragma: no cover - positive finite inputs
        return _unknown("big_move", threshold, "move not finite")
    holds = value >= threshold
    return new_reading(
        "big_move",
        value,
        threshold,
        holds,
        _BIG_MOVE_DETAIL[len(args) // 2],
        (*args, value, ">=" if holds else "<", threshold),
    )


_BIG_MOVE_SYMBOLS = (Symbol.SPX, Symbol.IWM)
_BIG_MOVE_DETAIL = {
    n: "since last rebalance: " + " / ".join(["{} {:+.2f}%"] * n) + "; max |move| {:.2f}% {} {:g}%"
    for n in (1, 2)
}
"""The ``big_move`` detail template for one or two moves."""


def _event_window_reading(today: date, calendar: EventCalendar, p: SignalParams) -> SignalReading:
    window = p.event_window_days
    threshold = float(window)
    i_event = bisect_left(calendar.event_days, today)
    if i_event == len(calendar.event_days):
        return _unknown(
            "event_window", threshold, f"no macro event on or after {today} in the calendar"
        )
    day = calendar.event_days[i_event]
    kinds = calendar.kinds_on[day]
    start = bisect_left(calendar.sessions, today)
    at = bisect_left(calendar.sessions, day, lo=start)
    if at == len(calendar.sessions):
        return _unknown(
            "event_window",
            threshold,
            f"next event {kinds} on {day} is beyond the known trading sessions",
        )
    sessions_ahead = at - start
    holds = sessions_ahead <= window
    return new_reading(
        "event_window",
        float(sessions_ahead),
        threshold,
        holds,
        "{} on {}: {} session(s) ahead ({} the {}-session window)",
        (kinds, day, sessions_ahead, "within" if holds else "outside", window),
    )


def _backwardation_reading(v: SignalValues, p: SignalParams) -> SignalReading:
    threshold = p.backwardation_ratio
    term = v.term_ratio
    if term is None:
        return _unknown("backwardation", threshold, "VIX/VIX3M: no VIX3M close/quote")
    holds = term > threshold
    return new_reading(
        "backwardation",
        term,
        threshold,
        holds,
        "VIX/VIX3M = {:.3f} {} {:g} ({})",
        (
            term,
            ">" if holds else "<=",
            threshold,
            "backwardation" if holds else "contango",
        ),
    )


def _unknown(signal_id: str, threshold: float, detail: str) -> SignalReading:
    """A reading whose value is unknown: ``value`` None, ``holds`` False."""
    return new_reading(signal_id, None, threshold, False, detail)
