"""Engine benchmark on the real daily history: throughput, latency percentiles, memory.

Run: ``uv run python bench/engine_bench.py [--data-dir DIR] [--naive-quotes N]``

Prints, for the streaming engine over the whole replay (2007 → end of files):
- quotes/s through ``Engine.on_quote`` + ``Engine.evaluate`` (the per-tick path),
- per-quote latency p50/p99/max (µs), per-session-close latency p50/p99 (µs),
- peak traced memory (tracemalloc) and process max RSS,
and next to it a naive pandas recompute of the same signals from the full history on
every quote (what a notebook would do), timed on the last N quotes only, because it is slow.
Figures go in issue notes so changes can be compared; this is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import time
import tracemalloc
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from adapters.replay import ReplaySource
from daemon.app import trading_sessions
from daemon.core.engine import Engine
from daemon.core.model import Bar, MarketEvent, Quote, SessionClose, Symbol
from daemon.core.signals import SignalBook
from daemon.logsetup import configure_logging
from daemon.settings import load_settings

REPO = Path(__file__).resolve().parents[1]


async def _collect(source: ReplaySource) -> tuple[dict[Symbol, Sequence[Bar]], list[MarketEvent]]:
    history = {s: await source.history(s, 250) for s in Symbol}
    events = [e async for e in source.events()]
    return history, events


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def _engine_pass(
    history: dict[Symbol, Sequence[Bar]], events: list[MarketEvent], *, trace_memory: bool
) -> tuple[list[float], list[float], float, int]:
    """One pass of the events through a fresh engine: per-call ns, wall s, peak bytes."""
    engine = Engine(load_settings().to_params(), sessions=trading_sessions())
    engine.warm_up(history)
    quote_ns: list[float] = []
    close_ns: list[float] = []
    gc.collect()
    if trace_memory:
        tracemalloc.start()
    t_all = time.perf_counter_ns()
    for ev in events:
        t0 = time.perf_counter_ns()
        if isinstance(ev, Quote):
            engine.on_quote(ev)
            engine.evaluate(ev.ts)
            quote_ns.append(time.perf_counter_ns() - t0)
        elif isinstance(ev, SessionClose):
            engine.on_session_close(ev.session_date, ev.ts)
            close_ns.append(time.perf_counter_ns() - t0)
    wall_s = (time.perf_counter_ns() - t_all) / 1e9
    peak = 0
    if trace_memory:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return quote_ns, close_ns, wall_s, peak


def bench_engine(
    history: dict[Symbol, Sequence[Bar]], events: list[MarketEvent]
) -> dict[str, float]:
    """Run the whole replay through the engine twice: timed, then under tracemalloc."""
    quote_ns, close_ns, wall_s, _ = _engine_pass(history, events, trace_memory=False)
    _, _, _, peak = _engine_pass(history, events, trace_memory=True)
    return {
        "sessions": len(close_ns),
        "quotes": len(quote_ns),
        "wall_s": wall_s,
        "quotes_per_s": len(quote_ns) / (sum(quote_ns) / 1e9),
        "events_per_s": len(events) / wall_s,
        "quote_p50_us": _pct(quote_ns, 50) / 1e3,
        "quote_p99_us": _pct(quote_ns, 99) / 1e3,
        "quote_max_us": max(quote_ns) / 1e3,
        "close_p50_us": _pct(close_ns, 50) / 1e3,
        "close_p99_us": _pct(close_ns, 99) / 1e3,
        "peak_traced_mib": peak / 2**20,  # allocations during the run, tracemalloc
    }


def bench_signals(
    history: dict[Symbol, Sequence[Bar]], events: list[MarketEvent]
) -> dict[str, float]:
    """All ten SPEC §3 signals evaluated provisionally on every quote (the like-for-like
    comparison with the pandas recompute), closes committed at each SessionClose."""
    params = load_settings().to_params()
    book = SignalBook(params.signals, params.scenario, params.macro_events, trading_sessions())
    book.warm_up(history)
    prices: dict[Symbol, float] = {}
    lat: list[float] = []
    for ev in events:
        if isinstance(ev, Quote):
            prices[ev.symbol] = ev.price
            if not all(s in prices for s in (Symbol.SPX, Symbol.IWM, Symbol.VIX)):
                continue
            t0 = time.perf_counter_ns()
            book.evaluate(ev.session_date, prices)
            lat.append(time.perf_counter_ns() - t0)
        elif isinstance(ev, SessionClose):
            book.on_close(ev.session_date, prices)
            prices = {}
    return {
        "quotes": len(lat),
        "quotes_per_s": len(lat) / (sum(lat) / 1e9),
        "quote_p50_us": _pct(lat, 50) / 1e3,
        "quote_p99_us": _pct(lat, 99) / 1e3,
    }


def _naive_signals(frame: pd.DataFrame) -> dict[str, float]:
    """Recompute the price-based SPEC §3 signal values from the full history with pandas."""
    ratio = frame["IWM"] / frame["SPX"]
    macd = ratio.ewm(span=12, adjust=False).mean() - ratio.ewm(span=26, adjust=False).mean()
    vix = frame["VIX"]
    vix_macd = vix.ewm(span=12, adjust=False).mean() - vix.ewm(span=26, adjust=False).mean()
    vix_sig = vix_macd.ewm(span=9, adjust=False).mean()

    def rsi(s: pd.Series) -> float:
        d = s.diff()
        up = d.clip(lower=0).ewm(alpha=1 / 14, adjust=False).mean()
        dn = (-d.clip(upper=0)).ewm(alpha=1 / 14, adjust=False).mean()
        return float(100 - 100 / (1 + up.iloc[-1] / dn.iloc[-1]))

    spread = frame["RVX"] - vix
    spx_ret = frame["SPX"].pct_change() * 100
    beta = spx_ret.rolling(90).cov(vix.diff()) / vix.diff().rolling(90).var()
    return {
        "ratio_macd": float(macd.iloc[-1]),
        "vix_rsi": rsi(vix),
        "ratio_rsi": rsi(ratio),
        "vix_macd_cross": float(vix_macd.iloc[-1] - vix_sig.iloc[-1]),
        "spread_mean": float(spread.rolling(90).mean().iloc[-1]),
        "iwm_sma50": float(frame["IWM"].rolling(50).mean().iloc[-1]),
        "iwm_sma200": float(frame["IWM"].rolling(200).mean().iloc[-1]),
        "beta": float(beta.iloc[-1]),
    }


def bench_naive(data_dir: Path, n_quotes: int) -> dict[str, float]:
    """Per-quote latency of a full pandas recompute, over the last ``n_quotes`` quotes."""
    cols = {"SPX": "spx", "IWM": "iwm", "VIX": "vix", "RVX": "rvx"}
    frames = [
        pd.read_csv(
            data_dir / f"{f}_daily.csv", usecols=["date", "close"], index_col="date"
        ).rename(columns={"close": c})
        for c, f in cols.items()
    ]
    frame = pd.concat(frames, axis=1, join="inner").loc["2007-01-01":]
    lat: list[float] = []
    rows = len(frame)
    for i in range(rows - n_quotes, rows):
        t0 = time.perf_counter_ns()
        _naive_signals(frame.iloc[: i + 1])
        lat.append(time.perf_counter_ns() - t0)
    return {
        "quotes": n_quotes,
        "quotes_per_s": n_quotes / (sum(lat) / 1e9),
        "quote_p50_us": _pct(lat, 50) / 1e3,
        "quote_p99_us": _pct(lat, 99) / 1e3,
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, run both benchmarks, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared/data/market")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2007, 1, 3))
    parser.add_argument("--naive-quotes", type=int, default=300)
    args = parser.parse_args(argv)
    configure_logging("warning")

    history, events = asyncio.run(_collect(ReplaySource(args.data_dir, start=args.start)))
    eng = bench_engine(history, events)
    sig = bench_signals(history, events)
    naive = bench_naive(args.data_dir, args.naive_quotes)
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"streaming engine, replay {args.start} → end of files")
    print(f"  sessions            {eng['sessions']:>12,.0f}")
    print(f"  quotes              {eng['quotes']:>12,.0f}")
    print(f"  replay wall time    {eng['wall_s']:>12.2f} s  ({eng['events_per_s']:,.0f} events/s)")
    print(f"  throughput          {eng['quotes_per_s']:>12,.0f} quotes/s (on_quote + evaluate)")
    print(
        f"  quote latency       p50 {eng['quote_p50_us']:.1f} µs   p99 {eng['quote_p99_us']:.1f} µs"
        f"   max {eng['quote_max_us']:.0f} µs"
    )
    print(
        f"  session close       p50 {eng['close_p50_us']:.0f} µs   p99 {eng['close_p99_us']:.0f} µs"
    )
    print(f"  peak traced memory  {eng['peak_traced_mib']:>12.1f} MiB (allocated during the run)")
    print(f"  process max RSS     {rss_mib:>12.1f} MiB")
    print("all SPEC §3 signals re-evaluated on every quote (SignalBook, provisional)")
    print(f"  throughput          {sig['quotes_per_s']:>12,.0f} quotes/s")
    print(
        f"  quote latency       p50 {sig['quote_p50_us']:.1f} µs   p99 {sig['quote_p99_us']:.1f} µs"
    )
    print(f"naive pandas recompute per quote (last {naive['quotes']:.0f} quotes)")
    print(f"  throughput          {naive['quotes_per_s']:>12,.1f} quotes/s")
    p50, p99 = naive["quote_p50_us"], naive["quote_p99_us"]
    print(f"  quote latency       p50 {p50:.0f} µs   p99 {p99:.0f} µs")
    print(f"speed-up, signals (p50) {naive['quote_p50_us'] / sig['quote_p50_us']:>10,.0f}×")


if __name__ == "__main__":
    main()
