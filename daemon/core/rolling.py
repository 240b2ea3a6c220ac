"""Windowed streaming indicators: ``Sma``/``RollingMean`` and ``RollingBeta`` (SPEC §3, §5).

Same surface as every indicator of :mod:`daemon.core.indicators` (``update``, ``value``,
``ready``, ``peek``, ``reset``, ``state``/``load_state``), which re-exports these. Both keep
their window; ``Sma`` a running sum and ``RollingBeta`` windowed Welford moments, recomputed
exactly (``math.fsum``, two-pass) every ``period`` updates, so rounding drift stays bounded
over arbitrarily long streams at an amortised cost of O(1) per update.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from itertools import islice
from typing import Any

from daemon.core.indicator_checks import (
    check_state,
    checked_period,
    finite_input,
    finite_or_none,
)
from daemon.errors import InvariantViolation

_INF = math.inf

__all__ = ["RollingBeta", "RollingMean", "Sma"]


class Sma:
    """Simple moving average over the last ``period`` observations (``rolling(period).mean()``).

    Keeps the window and a running sum; the sum is recomputed exactly (``math.fsum``) every
    ``period`` updates, so rounding drift stays bounded over long streams (O(1) amortised).
    Output has the units of the input.

    Args:
        period: window length in observations, >= 1.

    Raises:
        ValueError: ``period`` < 1.
    """

    __slots__ = ("_since", "_sum", "_window", "period")

    def __init__(self, period: int) -> None:
        self.period = checked_period(period, type(self).__name__)
        self._window: deque[float] = deque(maxlen=self.period)
        self._sum = 0.0
        self._since = 0

    def _next_window_tail(self, x: float) -> Iterable[float]:
        drop = 1 if len(self._window) == self.period else 0
        return [*islice(self._window, drop, None), x]

    def _next_sum(self, x: float) -> float:
        """The window sum after observing ``x`` (no state change)."""
        if self._since + 1 >= self.period:
            return math.fsum(self._next_window_tail(x))
        if len(self._window) == self.period:
            return self._sum + (x - self._window[0])
        return self._sum + x

    def update(self, x: float) -> None:
        """Commit one observation.

        Raises:
            InvariantViolation: ``x`` is NaN or infinite.
        """
        if x.__class__ is not float or not -_INF < x < _INF:  # the call only when bad
            x = finite_input(x, "Sma.update")
        self._sum = self._next_sum(x)
        self._since = 0 if self._since + 1 >= self.period else self._since + 1
        self._window.append(x)

    def peek(self, x: float) -> float | None:
        """The mean that ``update(x)`` would produce, without changing state.

        Raises:
            InvariantViolation: ``x`` is NaN or infinite.
        """
        if x.__class__ is not float or not -_INF < x < _INF:  # the call only when bad
            x = finite_input(x, "Sma.peek")
        if len(self._window) + 1 < self.period:
            return None
        return self._next_sum(x) / self.period

    @property
    def value(self) -> float | None:
        """Mean of the last ``period`` observations; ``None`` until the window is full."""
        # ready, inlined (read on every close)
        return self._sum / self.period if len(self._window) == self.period else None

    @property
    def ready(self) -> bool:
        """True once ``period`` observations have been seen."""
        return len(self._window) == self.period

    def reset(self) -> None:
        """Forget all observations."""
        self._window.clear()
        self._sum = 0.0
        self._since = 0

    def state(self) -> dict[str, Any]:
        """JSON-able snapshot of the full state."""
        return {
            "kind": "Sma",
            "period": self.period,
            "window": list(self._window),
            "sum": self._sum,
            "since": self._since,
        }

    def load_state(self, d: Mapping[str, Any]) -> None:
        """Restore a snapshot made by ``state()``.

        Raises:
            InvariantViolation: the snapshot is of another kind or period, or malformed.
        """
        check_state(d, "Sma", period=self.period)
        window = [float(v) for v in d["window"]]
        if len(window) > self.period:
            raise InvariantViolation(f"Sma state window has {len(window)} > {self.period} items")
        self._window = deque(window, maxlen=self.period)
        self._sum = float(d["sum"])
        self._since = int(d["since"])


RollingMean = Sma
"""Rolling mean over the last ``period`` observations; the same class as ``Sma``."""


class RollingBeta:
    """Least-squares slope of y on x over the last ``period`` pairs: cov(x, y) / var(x).

    Equals ``y.rolling(period).cov(x) / x.rolling(period).var()`` (ddof cancels). Keeps the
    window and windowed Welford moments (means, co-moment, x second moment), updated in
    centred form on every add/remove and recomputed exactly (two-pass, ``math.fsum``)
    every ``period`` updates: O(1) amortised, accurate to ~1e-12 over long streams.
    Units: (units of y) per (unit of x).

    Args:
        period: window length in pairs, >= 2.

    Raises:
        ValueError: ``period`` < 2.
    """

    __slots__ = ("_c_xy", "_m2_x", "_mean_x", "_mean_y", "_since", "_xs", "_ys", "period")

    def __init__(self, period: int) -> None:
        self.period = checked_period(period, "RollingBeta", minimum=2)
        self._xs: deque[float] = deque(maxlen=self.period)
        self._ys: deque[float] = deque(maxlen=self.period)
        self._mean_x = 0.0
        self._mean_y = 0.0
        self._c_xy = 0.0
        self._m2_x = 0.0
        self._since = 0

    def _advance(self, x: float, y: float) -> tuple[float, float, float, float]:
        """(mean_x, mean_y, c_xy, m2_x) after observing the pair (no state change)."""
        n = len(self._xs)
        full = n == self.period
        if self._since + 1 >= self.period:
            drop = 1 if full else 0
            xs = [*islice(self._xs, drop, None), x]
            ys = [*islice(self._ys, drop, None), y]
            m = len(xs)
            mx = math.fsum(xs) / m
            my = math.fsum(ys) / m
            dxs = [v - mx for v in xs]
            c_xy = math.fsum(dx * (v - my) for dx, v in zip(dxs, ys, strict=True))
            m2_x = math.fsum(dx * dx for dx in dxs)
            return mx, my, c_xy, m2_x
        mx, my, c_xy, m2_x = self._mean_x, self._mean_y, self._c_xy, self._m2_x
        if full:  # remove the oldest pair (n >= 2 here)
            x0, y0 = self._xs[0], self._ys[0]
            mx_less = mx - (x0 - mx) / (n - 1)
            my_less = my - (y0 - my) / (n - 1)
            c_xy -= (x0 - mx_less) * (y0 - my)
            m2_x -= (x0 - mx_less) * (x0 - mx)
            mx, my = mx_less, my_less
            n -= 1
        n1 = n + 1
        dx = x - mx
        mx += dx / n1
        my_new = my + (y - my) / n1
        c_xy += dx * (y - my_new)
        m2_x += dx * (x - mx)
        return mx, my_new, c_xy, m2_x

    @staticmethod
    def _slope(c_xy: float, m2_x: float) -> float | None:
        if m2_x <= 0.0:
            return None
        return finite_or_none(c_xy / m2_x)

    def update(self, x: float, y: float) -> None:
        """Commit one pair.

        Args:
            x: regressor observation (e.g. SPX daily return).
            y: regressand observation (e.g. IWM daily return).

        Raises:
            InvariantViolation: ``x`` or ``y`` is NaN or infinite.
        """
        if x.__class__ is not float or not -_INF < x < _INF:  # the call only when bad
            x = finite_input(x, "RollingBeta.update x")
        if y.__class__ is not float or not -_INF < y < _INF:  # the call only when bad
            y = finite_input(y, "RollingBeta.update y")
        self._mean_x, self._mean_y, self._c_xy, self._m2_x = self._advance(x, y)
        self._since = 0 if self._since + 1 >= self.period else self._since + 1
        self._xs.append(x)
        self._ys.append(y)

    def peek(self, x: float, y: float) -> float | None:
        """The slope that ``update(x, y)`` would produce, without changing state.

        Raises:
            InvariantViolation: ``x`` or ``y`` is NaN or infinite.
        """
        if x.__class__ is not float or not -_INF < x < _INF:  # the call only when bad
            x = finite_input(x, "RollingBeta.peek x")
        if y.__class__ is not float or not -_INF < y < _INF:  # the call only when bad
            y = finite_input(y, "RollingBeta.peek y")
        if len(self._xs) + 1 < self.period:
            return None
        _, _, c_xy, m2_x = self._advance(x, y)
        return self._slope(c_xy, m2_x)

    @property
    def value(self) -> float | None:
        """Slope of y on x over the window; ``None`` until full or when var(x) = 0."""
        if len(self._xs) != self.period:  # not ready (inlined: read on every close)
            return None
        m2_x = self._m2_x
        if m2_x <= 0.0:  # _slope, inlined
            return None
        slope = self._c_xy / m2_x
        return slope if -_INF < slope < _INF else None

    @property
    def ready(self) -> bool:
        """True once ``period`` pairs have been seen."""
        return len(self._xs) == self.period

    def reset(self) -> None:
        """Forget all observations."""
        self._xs.clear()
        self._ys.clear()
        self._mean_x = self._mean_y = self._c_xy = self._m2_x = 0.0
        self._since = 0

    def state(self) -> dict[str, Any]:
        """JSON-able snapshot of the full state."""
        return {
            "kind": "RollingBeta",
            "period": self.period,
            "xs": list(self._xs),
            "ys": list(self._ys),
            "mean_x": self._mean_x,
            "mean_y": self._mean_y,
            "c_xy": self._c_xy,
            "m2_x": self._m2_x,
            "since": self._since,
        }

    def load_state(self, d: Mapping[str, Any]) -> None:
        """Restore a snapshot made by ``state()``.

        Raises:
            InvariantViolation: the snapshot is of another kind or period, or malformed.
        """
        check_state(d, "RollingBeta", period=self.period)
        xs = [float(v) for v in d["xs"]]
        ys = [float(v) for v in d["ys"]]
        if len(xs) != len(ys) or len(xs) > self.period:
            raise InvariantViolation("RollingBeta state: malformed window")
        self._xs = deque(xs, maxlen=self.period)
        self._ys = deque(ys, maxlen=self.period)
        self._mean_x = float(d["mean_x"])
        self._mean_y = float(d["mean_y"])
        self._c_xy = float(d["c_xy"])
        self._m2_x = float(d["m2_x"])
        self._since = int(d["since"])
