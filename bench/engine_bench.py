"""Engine and replay benchmark on the real daily history (issue 9): what a user waits for.

Run: ``uv run python bench/engine_bench.py [--data-dir DIR] [--repeat N] [--naive-every K]``

Prints, in one run and on the same rows (the sessions ``alvhd replay`` streams, 2007 → the
end of the files, after the same warm-up):

1. ``alvhd replay DIR --no-progress``: the CLI's wall time, start-up included (the
   installed console script in a fresh process; median and min of ``--repeat`` runs).
2. The engine alone, fed the replay's quotes and closes in-process: sessions/s and the
   per-close latency of ``Engine.on_session_close`` (p50/p99/max), for the daemon's engine
   (no baseline book) and for the engine as ``alvhd replay`` builds it (with the always-on
   L1 baseline book of the P&L report).
3. The per-tick fast path: ``on_quote`` + ``evaluate`` per quote. This is the O(1) check
   that nothing can happen without a big move; it is not the engine's throughput (a close
   does the work).
4. The floor: the vectorised pandas computation of the same ten SPEC §3 signals (the same
   indicators, three betas) over all the rows at once.
5. The notebook way: a pandas recompute of the ten signals from the full history on every
   close (same rows, same dates), per-close p50/p99 and the total; ``--naive-every K``
   times every K-th close only (the total is then extrapolated and labelled so).

Figures are printed, not asserted; the machine's load average is printed with them.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from adapters.replay import ReplaySource
from daemon.app import trading_sessions
from daemon.core.engine import Engine
from daemon.core.model import Bar, MarketEvent, Quote, SessionClose, Symbol
from daemon.core.params import EngineParams, SignalParams
from daemon.logsetup import configure_logging
from daemon.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
ALVHD = str(Path(sys.executable).with_name("alvhd"))
FRAME_SYMBOLS = (Symbol.SPX, Symbol.IWM, Symbol.VIX, Symbol.RVX, Symbol.VIX3M)
"""The series the ten signals read (the VX futures only price hedges)."""


@dataclass(frozen=True, slots=True)
class Replay:
    """The rows every section uses: warm-up bars and the streamed events."""

    history: dict[Symbol, tuple[Bar, ...]]
    events: list[MarketEvent]
    sessions: tuple[date, ...]


async def _collect(settings: Settings, data_dir: Path) -> Replay:
    """The replay exactly as ``alvhd replay`` streams it (same start, end and warm-up)."""
    source = ReplaySource(
        data_dir,
        start=settings.replay.start,
        end=settings.replay.end,
        warmup_days=settings.replay.warmup_days,
    )
    days = settings.replay.warmup_days
    history = {s: tuple(await source.history(s, days)) for s in source.symbols}
    events = [e async for e in source.events()]
    return Replay(history=history, events=events, sessions=source.sessions)


def _pct(values_ns: Sequence[float], q: float) -> float:
    """Percentile ``q`` of nanosecond samples, in µs."""
    return float(np.percentile(np.asarray(values_ns), q)) / 1e3


# --------------------------------------------------------------------------- 1. the CLI


def bench_cli(data_dir: Path, repeat: int) -> list[float]:
    """Wall seconds of ``alvhd replay DIR --no-progress`` (a fresh process each time)."""
    walls: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeat):
            t0 = time.perf_counter()
            proc = subprocess.run(  # noqa: S603 - our own console script, fixed arguments
                [ALVHD, "replay", str(data_dir), "--no-progress", "--days-csv", f"{tmp}/d.csv"],
                capture_output=True,
                text=True,
                check=False,
                cwd=tmp,
            )
            walls.append(time.perf_counter() - t0)
            if proc.returncode not in {0, 1}:  # 1: the cost cap was breached (a result)
                msg = f"alvhd replay failed ({proc.returncode}): {proc.stderr[-2000:]}"
                raise RuntimeError(msg)
    return walls


# --------------------------------------------------------------------------- 2-3. engine


@dataclass(frozen=True, slots=True)
class EngineFigures:
    """One pass of the replay through a fresh engine."""

    sessions: int
    quotes: int
    wall_s: float
    close_ns: list[float]
    tick_ns: list[float]


def bench_engine(params: EngineParams, replay: Replay, *, track_baseline: bool) -> EngineFigures:
    """Feed every quote (``on_quote`` + ``evaluate``) and close to a fresh engine, timed."""
    engine = Engine(params, sessions=trading_sessions(), track_baseline=track_baseline)
    engine.warm_up(replay.history)
    close_ns: list[float] = []
    tick_ns: list[float] = []
    clock = time.perf_counter_ns
    gc.collect()
    t_all = clock()
    for ev in replay.events:
        t0 = clock()
        if isinstance(ev, Quote):
            engine.on_quote(ev)
            engine.evaluate(ev.ts)
            tick_ns.append(clock() - t0)
        elif isinstance(ev, SessionClose):
            engine.on_session_close(ev.session_date, ev.ts)
            close_ns.append(clock() - t0)
    wall_s = (clock() - t_all) / 1e9
    return EngineFigures(len(close_ns), len(tick_ns), wall_s, close_ns, tick_ns)


# --------------------------------------------------------------------------- 4-5. pandas


def closes_frame(replay: Replay) -> tuple[pd.DataFrame, int]:
    """The closes the signal book commits, one row per session: warm-up rows, then the
    streamed sessions. Returns the frame and the row of the first streamed session."""
    rows: dict[date, dict[str, float]] = {}
    for symbol, bars in replay.history.items():
        if symbol in FRAME_SYMBOLS:
            for bar in bars:
                rows.setdefault(bar.session_date, {})[symbol.value] = bar.close
    first = len({d for d, r in rows.items() if "SPX" in r})
    for ev in replay.events:
        if isinstance(ev, Quote) and ev.symbol in FRAME_SYMBOLS:
            rows.setdefault(ev.session_date, {})[ev.symbol.value] = ev.price
    frame = pd.DataFrame.from_dict(rows, orient="index").sort_index()
    frame = frame.dropna(subset=["SPX", "IWM", "VIX"])
    return frame[[s.value for s in FRAME_SYMBOLS]], first


@dataclass(frozen=True, slots=True)
class EventDays:
    """Sessions to the next macro event, precomputed the vectorised way."""

    event_days: np.ndarray
    sessions: np.ndarray


def _sessions_ahead(index: pd.Index, cal: EventDays) -> np.ndarray:
    days = index.to_numpy(dtype="datetime64[D]")
    nxt = np.searchsorted(cal.event_days, days)
    has = nxt < len(cal.event_days)
    event = cal.event_days[np.minimum(nxt, len(cal.event_days) - 1)]
    ahead = np.searchsorted(cal.sessions, event) - np.searchsorted(cal.sessions, days)
    return np.where(has, ahead, -1)


def ten_signals(
    frame: pd.DataFrame, p: SignalParams, periods: tuple[int, int, int], cal: EventDays
) -> pd.DataFrame:
    """The ten SPEC §3 signals (value and holds) on every row, vectorised with pandas.

    Same definitions as the engine's SignalBook (module docstring of daemon.core.signals):
    MACD and Wilder RSI as exponential means, RVX−VIX against its mean over the days RVX
    exists, IWM against SMA50 (and SMA200), VIX/VIX3M, the three betas (β_vix 90 days,
    IWM-on-SPX 30 and 90 days). ``big_move`` compares with the price at the last 5-session
    rebalance (the engine's reference also moves on decisions); ``ad_divergence`` has no
    breadth feed (always unknown), as in the engine.

    Args:
        frame: closes, one row per session (columns SPX, IWM, VIX, RVX, VIX3M).
        p: the signal parameters.
        periods: (β window, short IWM β window, rebalance cadence), sessions.
        cal: the macro-event days and trading sessions.
    """
    beta_days, beta_short_days, every = periods
    spx, iwm, vix = frame["SPX"], frame["IWM"], frame["VIX"]
    ratio = iwm / spx

    def macd(s: pd.Series) -> tuple[pd.Series, pd.Series]:
        line = (
            s.ewm(span=p.macd_fast, adjust=False).mean()
            - s.ewm(span=p.macd_slow, adjust=False).mean()
        )
        return line, line.ewm(span=p.macd_signal, adjust=False).mean()

    def rsi(s: pd.Series) -> pd.Series:
        d = s.diff()
        up = d.clip(lower=0).ewm(alpha=1 / p.rsi_period, adjust=False).mean()
        dn = (-d.clip(upper=0)).ewm(alpha=1 / p.rsi_period, adjust=False).mean()
        return 100 - 100 / (1 + up / dn)

    def beta(x: pd.Series, y: pd.Series, n: int) -> pd.Series:
        return y.rolling(n).cov(x) / x.rolling(n).var()

    ratio_line, _ = macd(ratio)
    vix_line, vix_signal = macd(vix)
    spread = frame["RVX"] - vix
    spread_mean = spread.dropna().rolling(p.iv_spread_mean_days).mean().reindex(frame.index)
    excess = (spread - spread_mean) / spread_mean.abs()
    sma_fast = iwm.rolling(p.iwm_sma_fast_days).mean()
    spx_ret, iwm_ret = spx.pct_change(), iwm.pct_change()
    beta_vix = beta(vix.diff(), spx_ret * 100.0, beta_days)
    beta_30 = beta(spx_ret, iwm_ret, beta_short_days)
    beta_90 = beta(spx_ret, iwm_ret, beta_days)
    ref_rows = np.arange(len(frame)) // every * every
    move = (
        pd.concat(
            [
                (spx / spx.to_numpy()[ref_rows] - 1).abs(),
                (iwm / iwm.to_numpy()[ref_rows] - 1).abs(),
            ],
            axis=1,
        ).max(axis=1)
        * 100.0
    )
    ahead = pd.Series(_sessions_ahead(frame.index, cal), index=frame.index, dtype=float)
    term = vix / frame["VIX3M"]
    out = pd.DataFrame(
        {
            "ratio_macd_negative": ratio_line,
            "vix_rsi_hot": rsi(vix),
            "vix_macd_bull_cross": vix_line - vix_signal,
            "ratio_rsi_weak": rsi(ratio),
            "iv_spread_blowout": excess,
            "small_cap_below_ma": (iwm / sma_fast - 1) * 100.0,
            "big_move": move,
            "event_window": ahead.where(ahead >= 0),
            "backwardation": term,
            "ad_divergence": np.nan,
            "beta_vix": beta_vix,
            "beta_iwm_spx_30d": beta_30,
            "beta_iwm_spx_90d": beta_90,
            "iwm_sma_slow": iwm.rolling(p.iwm_sma_slow_days).mean(),
        }
    )
    holds = {
        "ratio_macd_negative": out["ratio_macd_negative"] < 0,
        "vix_rsi_hot": out["vix_rsi_hot"] > p.vix_rsi_hot,
        "vix_macd_bull_cross": out["vix_macd_bull_cross"] > 0,
        "ratio_rsi_weak": out["ratio_rsi_weak"] < p.ratio_rsi_weak,
        "iv_spread_blowout": out["iv_spread_blowout"] > p.iv_spread_blowout_frac,
        "small_cap_below_ma": out["small_cap_below_ma"] < 0,
        "big_move": out["big_move"] >= p.big_move_pct,
        "event_window": out["event_window"] <= p.event_window_days,
        "backwardation": out["backwardation"] > p.backwardation_ratio,
        "ad_divergence": pd.Series(False, index=out.index),
    }
    for name, series in holds.items():
        out[f"{name}_holds"] = series
    return out


def bench_pandas_floor(
    frame: pd.DataFrame, fn: Callable[[pd.DataFrame], pd.DataFrame], repeat: int
) -> list[float]:
    """Seconds of the vectorised computation over every row (``repeat`` runs)."""
    walls = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(frame)
        walls.append(time.perf_counter() - t0)
    return walls


def bench_pandas_per_close(
    frame: pd.DataFrame, first: int, fn: Callable[[pd.DataFrame], pd.DataFrame], every: int
) -> tuple[list[float], int]:
    """ns per close of a full recompute on the history up to that close (every K-th)."""
    lat: list[float] = []
    clock = time.perf_counter_ns
    rows = range(first, len(frame), every)
    for i in rows:
        t0 = clock()
        fn(frame.iloc[: i + 1]).iloc[-1]
        lat.append(clock() - t0)
    return lat, len(range(first, len(frame)))


# --------------------------------------------------------------------------- main


def _engine_lines(title: str, f: EngineFigures) -> list[str]:
    mean_us = statistics.fmean(f.close_ns) / 1e3
    return [
        title,
        f"  sessions/s          {f.sessions / f.wall_s:>12,.0f}  "
        f"({f.sessions:,} closes + {f.quotes:,} quotes in {f.wall_s:.2f} s)",
        f"  per close           p50 {_pct(f.close_ns, 50):.0f} µs   p99 "
        f"{_pct(f.close_ns, 99):.0f} µs   max {max(f.close_ns) / 1e3:.0f} µs   "
        f"mean {mean_us:.0f} µs",
    ]


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, run every section, print the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared/data/market")
    parser.add_argument("--repeat", type=int, default=3, help="CLI runs / floor runs")
    parser.add_argument("--naive-every", type=int, default=1, help="time every K-th close")
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI section")
    args = parser.parse_args(argv)
    configure_logging("error")
    settings = load_settings()
    params = settings.to_params()

    load1, load5, _ = os.getloadavg()
    print(f"engine bench, {args.data_dir} (load average {load1:.2f} / {load5:.2f})")
    if not args.no_cli:
        walls = bench_cli(args.data_dir, args.repeat)
        print(f"alvhd replay (CLI, start-up and days.csv included), {args.repeat} runs")
        print(
            f"  wall time           median {statistics.median(walls):.2f} s   "
            f"min {min(walls):.2f} s"
        )

    replay = asyncio.run(_collect(settings, args.data_dir))
    print(
        f"rows: {len(replay.sessions):,} sessions {replay.sessions[0]} → "
        f"{replay.sessions[-1]} after {settings.replay.warmup_days} warm-up sessions"
    )
    daemon = bench_engine(params, replay, track_baseline=False)
    batch_params = replace(params, days_window=max(params.days_window, len(replay.sessions)))
    batch = bench_engine(batch_params, replay, track_baseline=True)
    for line in _engine_lines("engine alone, daemon configuration (no baseline book)", daemon):
        print(line)
    for line in _engine_lines("engine alone, as alvhd replay runs it (+ baseline L1 book)", batch):
        print(line)
    print("per-tick fast path (on_quote + evaluate: the O(1) no-big-move check, not throughput)")
    print(
        f"  per quote           p50 {_pct(daemon.tick_ns, 50):.1f} µs   "
        f"p99 {_pct(daemon.tick_ns, 99):.1f} µs"
    )

    frame, first = closes_frame(replay)
    sessions = trading_sessions()
    cal = EventDays(
        event_days=np.array(sorted(e.day for e in params.macro_events), dtype="datetime64[D]"),
        sessions=np.array(sessions, dtype="datetime64[D]"),
    )
    sp = params.signals
    periods = (
        params.scenario.beta_days,
        params.scenario.beta_short_days,
        params.ladder.rebalance_every_days,
    )

    def fn(f: pd.DataFrame) -> pd.DataFrame:
        return ten_signals(f, sp, periods, cal)

    floor = bench_pandas_floor(frame, fn, max(args.repeat, 3))
    print(f"pandas floor: the ten signals (3 betas) vectorised over all {len(frame):,} rows")
    floor_s = statistics.median(floor)
    per_session_us = floor_s / len(frame) * 1e6
    print(
        f"  wall time           median {floor_s * 1e3:.1f} ms   = {per_session_us:.2f} µs per row"
    )
    lat, closes = bench_pandas_per_close(frame, first, fn, max(1, args.naive_every))
    total_s = statistics.fmean(lat) * closes / 1e9
    sampled = "" if args.naive_every <= 1 else f" (every {args.naive_every}th timed, extrapolated)"
    print(f"pandas recompute of the ten signals on every close ({closes:,} closes{sampled})")
    print(
        f"  per close           p50 {_pct(lat, 50) / 1e3:.2f} ms   p99 {_pct(lat, 99) / 1e3:.2f} ms"
        f"   total {total_s:.1f} s = {closes / total_s:,.0f} sessions/s"
    )
    engine_p50 = _pct(daemon.close_ns, 50)
    print(
        f"engine vs per-close pandas recompute (p50 per close): "
        f"{_pct(lat, 50) / engine_p50:,.0f}x faster"
    )
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process max RSS       {rss_mib:.0f} MiB")


if __name__ == "__main__":
    main()
