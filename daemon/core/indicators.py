"""Streaming technical indicators, O(1) (amortised) per update (SPEC §3, STYLE.md §2.4).

Every indicator has the same small surface:

- ``update(x)`` commits one observation (a daily close); ``RollingBeta.update(x, y)`` takes a pair.
- ``value`` is the current reading, ``None`` until the indicator is ``ready`` (warmed up).
- ``peek(x)`` returns what ``value`` would be if ``x`` were the next observation, without
  changing any state (used for provisional intraday evaluation, SPEC §2). ``peek(x)`` is
  computed by exactly the same arithmetic as ``update(x)``, so ``peek(x)`` equals the ``value``
  after ``update(x)`` bit for bit.
- ``reset()`` forgets everything; ``state()`` returns a JSON-able dict and ``load_state(d)``
  restores it exactly (floats survive a JSON round trip unchanged), so a restored indicator
  produces identical subsequent readings.

Inputs must be finite: the adapters reject NaN at the edge (STYLE.md §2.6), so a non-finite
input here is a bug and raises ``InvariantViolation``. Outputs are finite floats or ``None``,
never NaN.

Reference definitions (each is tested against a pandas computation on the real files):

- ``Ema(n)``: ``pandas.Series.ewm(span=n, adjust=False).mean()``: alpha = 2 / (n + 1), seeded
  with the first observation, reported once ``n`` observations have been seen
  (``min_periods=n``).
- ``Macd(fast, slow, signal)``: Appel's MACD (Gerald Appel, 1979): line = EMA(fast) − EMA(slow)
  of the input, signal line = EMA(signal) of the line, histogram = line − signal. As in the
  usual pandas recipe, all three EMAs start at the first observation; the line is reported
  after ``slow`` observations and the signal line after ``slow + signal − 1``.
- ``Rsi(n)``: J. Welles Wilder Jr., *New Concepts in Technical Trading Systems* (1978):
  with gain = max(Δx, 0) and loss = max(−Δx, 0), the first average gain/loss is the simple
  mean of the first ``n`` gains/losses (which needs ``n + 1`` observations); afterwards
  ``avg = (avg × (n − 1) + current) / n`` (Wilder's smoothing, an EMA with alpha = 1/n).
  RSI = 100 − 100 / (1 + avg_gain / avg_loss), and RSI = 100 when avg_loss = 0 (also for a
  perfectly flat series, where Wilder's ratio is undefined).
- ``Sma(n)`` / ``RollingMean(n)``: ``pandas.Series.rolling(n).mean()``.
- ``RollingBeta(n)``: the least-squares slope of y on x over the last ``n`` pairs,
  cov(x, y) / var(x) (= ``y.rolling(n).cov(x) / x.rolling(n).var()``).

Numerical accuracy: ``Sma`` keeps a running sum and ``RollingBeta`` windowed Welford moments
(add the new pair, remove the oldest, both in centred form); both are recomputed exactly
from their window (``math.fsum``, two-pass) every ``n`` updates, which bounds the rounding
drift over arbitrarily long streams at an amortised cost of O(1) per update.

Layout: ``Ema``, ``Macd`` and ``Rsi`` (the recursive ones) are here; the windowed ones,
``Sma``/``RollingMean`` and ``RollingBeta``, are in :mod:`daemon.core.rolling` and
re-exported; the input, period and snapshot checks they share are in
:mod:`daemon.core.indicator_checks`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from daemon.core.indicator_checks import (
    check_state,
    checked_period,
    finite_input,
    optional_float,
)
from daemon.core.rolling import RollingBeta, RollingMean, Sma
from daemon.errors import InvariantViolation

_INF = math.inf

__all__ = ["Ema", "Macd", "RollingBeta", "RollingMean", "Rsi", "Sma"]


class Ema:
    """Exponential moving average, ``pandas ewm(span=period, adjust=False)``.

    alpha = 2 / (period + 1); the first observation seeds the average;
    ``ema_t = (1 − alpha) × ema_{t−1} + alpha × x_t``. ``value`` is reported once ``period``
    observations have been seen (pandas ``min_periods=period``). Output has the units of
    the input.

    Args:
        period: span in observations (>= 1).

    Raises:
        ValueError: ``period`` < 1.
    """

    __slots__ = ("_alpha", "_count", "_ema", "period")

    def __init__(self, period: int) -> None:
        self.period = checked_period(period, "Ema")
        self._alpha = 2.0 / (self.period + 1.0)
        self._count = 0
        self._ema: float | None = None

    def _advance(self, x: float) -> float:
        """The EMA after observing ``x`` (no state change)."""
        if self._ema is None:
            return x
        return (1.0 - self._alpha) * self._ema + self._alpha * x

    def update(self, x: float) -> None:
        """Commit one observation.

        Args:
            x: the observation (finite).

        Raises:
            InvariantViolation: ``x`` is NaN or infinite.
        """
        if x.__class__ is not float or not -_INF < x < _INF:  # the call only when bad
            x = finite_input(x, "Ema.update")
        ema = self._ema  # _advance, inlined: six EMAs a close
        self._ema = x if ema is None else (1.0 - self._alpha) * ema + self._alpha * x
        self._count += 1

    def peek(self, x: float) -> float | None:
        """The ``value`` that ``update(x)`` would produce, without changing state.

        Raises:
            InvariantViolation: ``x`` is NaN or infinite.
        """
        if x.__class__ is not float or not -_INF < x < _INF:  # the call only when bad
            x = finite_input(x, "Ema.peek")
        return self._advance(x) if self._count + 1 >= self.period else None

    @property
    def value(self) -> float | None:
        """The EMA (input units), ``None`` before ``period`` observations."""
        return self._ema if self.ready else None

    @property
    def ready(self) -> bool:
        """True once ``period`` observations have been seen."""
        return self._count >= self.period

    @property
    def count(self) -> int:
        """Observations committed since construction or ``reset()``."""
        return self._count

    def reset(self) -> None:
        """Forget all observations."""
        self._count = 0
        self._ema = None

    def state(self) -> dict[str, Any]:
        """JSON-able snapshot of the full state."""
        return {"kind": "Ema", "period": self.period, "count": self._count, "ema": self._ema}

    def load_state(self, d: Mapping[str, Any]) -> None:
        """Restore a snapshot made by ``state()``.

        Raises:
            InvariantViolation: the snapshot is of another kind or period.
        """
        check_state(d, "Ema", period=self.period)
        self._count = int(d["count"])
        self._ema = optional_float(d["ema"])


class Macd:
    """MACD (Appel 1979): EMA(fast) − EMA(slow), its EMA(signal) and the histogram.

    All EMAs are ``pandas ewm(span, adjust=False)`` seeded at the first observation (the
    common pandas recipe ``line.ewm(span=signal, adjust=False)`` for the signal line).
    Output has the units of the input (for a price ratio: ratio units).

    Args:
        fast: fast EMA span (observations), >= 1.
        slow: slow EMA span, > ``fast``.
        signal: signal-line EMA span, >= 1.

    Raises:
        ValueError: a span < 1 or ``fast`` >= ``slow``.
    """

    __slots__ = ("_count", "_fast", "_signal", "_slow", "fast", "signal", "slow")

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        self.fast = checked_period(fast, "Macd.fast")
        self.slow = checked_period(slow, "Macd.slow")
        self.signal = checked_period(signal, "Macd.signal")
        if self.fast >= self.slow:
            raise ValueError(f"Macd: fast ({fast}) must be < slow ({slow})")
        self._fast = Ema(self.fast)
        self._slow = Ema(self.slow)
        self._signal = Ema(self.signal)
        self._count = 0

    @property
    def _line_ready_after(self) -> int:
        return self.slow

    @property
    def _signal_ready_after(self) -> int:
        return self.slow + self.signal - 1

    def update(self, x: float) -> None:
        """Commit one observation.

        Raises:
            InvariantViolation: ``x`` is NaN or infinite.
        """
        if x.__class__ is not float or not -_INF < x < _INF:  # the call only when bad
            x = finite_input(x, "Macd.update")
        fast, slow = self._fast, self._slow
        fast.update(x)
        slow.update(x)
        # _raw_line, inlined (both EMAs are seeded by the updates above)
        self._signal.update(fast._ema - slow._ema)  # type: ignore[operator]
        self._count += 1

    def _raw_line(self) -> float:
        fast, slow = self._fast._ema, self._slow._ema
        if fast is None or slow is None:  # pragma: no cover - update() seeds both
            raise InvariantViolation("Macd: EMAs not seeded")
        return fast - slow

    def peek(self, x: float) -> tuple[float | None, float | None]:
        """``(line, signal_line)`` that ``update(x)`` would produce, without changing state.

        Raises:
            InvariantViolation: ``x`` is NaN or infinite.
        """
        if x.__class__ is not float or not -_INF < x < _INF:  # the call only when bad
            x = finite_input(x, "Macd.peek")
        line = self._fast._advance(x) - self._slow._advance(x)
        sig = self._signal._advance(line)
        n = self._count + 1
        return (
            line if n >= self._line_ready_after else None,
            sig if n >= self._signal_ready_after else None,
        )

    @property
    def line(self) -> float | None:
        """MACD line EMA(fast) − EMA(slow) (input units); ``None`` before ``slow`` observations."""
        if self._count < self.slow:  # _line_ready_after, inlined: read on every close
            return None
        fast, slow = self._fast._ema, self._slow._ema
        if fast is None or slow is None:  # pragma: no cover - update() seeds both
            raise InvariantViolation("Macd: EMAs not seeded")
        return fast - slow

    @property
    def signal_line(self) -> float | None:
        """EMA(signal) of the line; ``None`` before ``slow + signal − 1`` observations."""
        # _signal_ready_after, inlined: read on every close
        return self._signal._ema if self._count >= self.slow + self.signal - 1 else None

    @property
    def histogram(self) -> float | None:
        """MACD line − signal line (input units); ``None`` until the signal line is ready."""
        line, sig = self.line, self.signal_line
        return None if line is None or sig is None else line - sig

    @property
    def value(self) -> float | None:
        """Same as ``line``."""
        return self.line

    @property
    def ready(self) -> bool:
        """True once line, signal line and histogram are all available."""
        return self._count >= self._signal_ready_after

    def reset(self) -> None:
        """Forget all observations."""
        self._fast.reset()
        self._slow.reset()
        self._signal.reset()
        self._count = 0

    def state(self) -> dict[str, Any]:
        """JSON-able snapshot of the full state."""
        return {
            "kind": "Macd",
            "fast": self.fast,
            "slow": self.slow,
            "signal": self.signal,
            "count": self._count,
            "fast_ema": self._fast.state(),
            "slow_ema": self._slow.state(),
            "signal_ema": self._signal.state(),
        }

    def load_state(self, d: Mapping[str, Any]) -> None:
        """Restore a snapshot made by ``state()``.

        Raises:
            InvariantViolation: the snapshot is of another kind or other spans.
        """
        check_state(d, "Macd", fast=self.fast, slow=self.slow, signal=self.signal)
        self._fast.load_state(d["fast_ema"])
        self._slow.load_state(d["slow_ema"])
        self._signal.load_state(d["signal_ema"])
        self._count = int(d["count"])


class Rsi:
    """Relative Strength Index with Wilder's smoothing (Wilder 1978).

    Source: J. Welles Wilder Jr., *New Concepts in Technical Trading Systems* (1978).
    gain_t = max(x_t − x_{t−1}, 0), loss_t = max(x_{t−1} − x_t, 0). The first average
    gain/loss is the simple mean of the first ``period`` gains/losses; afterwards
    ``avg = (avg × (period − 1) + current) / period``. RSI = 100 − 100 / (1 + RS) with
    RS = avg_gain / avg_loss; RSI = 100 when avg_loss = 0. Scale 0–100.

    Args:
        period: Wilder's ``n`` (observations of change), >= 1 (SPEC default 14).

    Raises:
        ValueError: ``period`` < 1.
    """

    __slots__ = ("_avg_gain", "_avg_loss", "_count", "_prev", "period")

    def __init__(self, period: int = 14) -> None:
        self.period = checked_period(period, "Rsi")
        self._count = 0
        self._prev: float | None = None
        # Sums of gains/losses while seeding (count <= period), averages afterwards.
        self._avg_gain = 0.0
        self._avg_loss = 0.0

    def _advance(self, x: float) -> tuple[float, float]:
        """(gain accumulator, loss accumulator) after observing ``x`` (no state change)."""
        if self._prev is None:
            return 0.0, 0.0
        delta = x - self._prev
        gain = delta if delta > 0.0 else 0.0
        loss = -delta if delta < 0.0 else 0.0
        n = self.period
        changes = self._count  # number of changes after this observation
        if changes < n:
            return self._avg_gain + gain, self._avg_loss + loss
        if changes == n:
            return (self._avg_gain + gain) / n, (self._avg_loss + loss) / n
        return (self._avg_gain * (n - 1) + gain) / n, (self._avg_loss * (n - 1) + loss) / n

    @staticmethod
    def _rsi(avg_gain: float, avg_loss: float) -> float:
        if avg_loss == 0.0:
            return 100.0
        return 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)

    def update(self, x: float) -> None:
        """Commit one observation.

        Raises:
            InvariantViolation: ``x`` is NaN or infinite.
        """
        if x.__class__ is not float or not -_INF < x < _INF:  # the call only when bad
            x = finite_input(x, "Rsi.update")
        self._avg_gain, self._avg_loss = self._advance(x)
        self._prev = x
        self._count += 1

    def peek(self, x: float) -> float | None:
        """The RSI (0–100) that ``update(x)`` would produce, without changing state.

        Raises:
            InvariantViolation: ``x`` is NaN or infinite.
        """
        if x.__class__ is not float or not -_INF < x < _INF:  # the call only when bad
            x = finite_input(x, "Rsi.peek")
        if self._count + 1 < self.period + 1:
            return None
        return self._rsi(*self._advance(x))

    @property
    def value(self) -> float | None:
        """RSI on a 0–100 scale; ``None`` before ``period + 1`` observations."""
        if self._count < self.period + 1:  # not ready (inlined: read on every close)
            return None
        avg_loss = self._avg_loss
        if avg_loss == 0.0:  # _rsi, inlined
            return 100.0
        return 100.0 - 100.0 / (1.0 + self._avg_gain / avg_loss)

    @property
    def ready(self) -> bool:
        """True once ``period + 1`` observations (``period`` changes) have been seen."""
        return self._count >= self.period + 1

    def reset(self) -> None:
        """Forget all observations."""
        self._count = 0
        self._prev = None
        self._avg_gain = 0.0
        self._avg_loss = 0.0

    def state(self) -> dict[str, Any]:
        """JSON-able snapshot of the full state."""
        return {
            "kind": "Rsi",
            "period": self.period,
            "count": self._count,
            "prev": self._prev,
            "avg_gain": self._avg_gain,
            "avg_loss": self._avg_loss,
        }

    def load_state(self, d: Mapping[str, Any]) -> None:
        """Restore a snapshot made by ``state()``.

        Raises:
            InvariantViolation: the snapshot is of another kind or period.
        """
        check_state(d, "Rsi", period=self.period)
        self._count = int(d["count"])
        self._prev = optional_float(d["prev"])
        self._avg_gain = float(d["avg_gain"])
        self._avg_loss = float(d["avg_loss"])
