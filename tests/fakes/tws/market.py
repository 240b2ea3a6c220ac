"""Real market history for the fake TWS, read from ``shared/data/market`` (never copied)."""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from datetime import date
from pathlib import Path


@dataclass(frozen=True, slots=True)
class DailyBar:
    """One daily OHLC bar as the CSV holds it (index points / USD)."""

    day: date
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0


DAILY_FILES: dict[str, str] = {
    "SPX": "spx_daily.csv",
    "IWM": "iwm_daily.csv",
    "VIX": "vix_daily.csv",
    "RVX": "rvx_daily.csv",
    "VIX3M": "vix3m_daily.csv",
}


@functools.lru_cache(maxsize=16)
def load_daily(path: Path) -> tuple[DailyBar, ...]:
    """Read a ``date,open,high,low,close[,volume]`` file, oldest first."""
    with path.open(newline="") as fh:
        return tuple(
            DailyBar(
                day=date.fromisoformat(row["date"]),
                open=float(row["open"]),
                high=float(row["high"]),
                low=float(row["low"]),
                close=float(row["close"]),
                volume=float(row.get("volume") or 0.0),
            )
            for row in csv.DictReader(fh)
        )


@functools.lru_cache(maxsize=4)
def load_vx_front4(path: Path) -> dict[date, tuple[DailyBar, ...]]:
    """VX futures by expiry (settle used as the close), from ``vix_futures_front4_daily.csv``."""
    by_expiry: dict[date, list[DailyBar]] = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            expiry = date.fromisoformat(row["expiry"])
            text = row["settle"] or row["close"]
            if not text:
                continue
            settle = float(text)
            by_expiry.setdefault(expiry, []).append(
                DailyBar(
                    day=date.fromisoformat(row["date"]),
                    open=float(row["open"] or settle),
                    high=float(row["high"] or settle),
                    low=float(row["low"] or settle),
                    close=settle,
                    volume=float(row["volume"] or 0.0),
                )
            )
    return {k: tuple(v) for k, v in by_expiry.items()}


@dataclass(frozen=True, slots=True)
class MarketData:
    """Every daily series the fake serves, keyed by series name (``SPX``, ``VX:20200122``)."""

    series: dict[str, tuple[DailyBar, ...]]

    @classmethod
    def load(cls, market_dir: Path) -> MarketData:
        """Load the daily index/ETF files and the VX futures by expiry."""
        series = {key: load_daily(market_dir / name) for key, name in DAILY_FILES.items()}
        for expiry, bars in load_vx_front4(market_dir / "vix_futures_front4_daily.csv").items():
            series[f"VX:{expiry:%Y%m%d}"] = bars
        return cls(series=series)

    def bars_before(self, key: str, day: date, count: int) -> tuple[DailyBar, ...]:
        """The last ``count`` bars strictly before ``day``."""
        bars = self.series.get(key, ())
        before = [b for b in bars if b.day < day]
        return tuple(before[-count:]) if count > 0 else ()

    def bar_on(self, key: str, day: date) -> DailyBar | None:
        """The bar of ``day``, if the series has one."""
        for bar in reversed(self.series.get(key, ())):
            if bar.day == day:
                return bar
            if bar.day < day:
                return None
        return None

    def last_close_before(self, key: str, day: date) -> float | None:
        """The close of the last bar strictly before ``day``."""
        bars = self.bars_before(key, day, 1)
        return bars[-1].close if bars else None

    def vx_expiries_listed(self, day: date, count: int = 4) -> list[date]:
        """The first ``count`` VX expiries on or after ``day`` that have data around ``day``."""
        listed: list[date] = []
        for key, bars in self.series.items():
            if not key.startswith("VX:"):
                continue
            expiry = date(int(key[3:7]), int(key[7:9]), int(key[9:11]))
            if expiry >= day and bars and bars[0].day <= day:
                listed.append(expiry)
        return sorted(listed)[:count]
