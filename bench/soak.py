"""Soak bench: the simulator at full speed through the engine, many seeds, long horizons.

Run: ``uv run python bench/soak.py [--seeds 10] [--sessions 10000] [--ticks 12]`` (or
``make soak``). Issue 6 §4: "the engine never dies of a market it has not seen" and
"memory stays flat".

For each seed, a fresh :class:`adapters.sim.SimSource` (``sessions`` sessions of
``ticks`` quote rounds of 7 symbols, the scripted calm → rotation → stress → recovery
regimes stretched over the whole horizon, so a 10,000-session run spends ~2,500 sessions in
stress and drives SPX to levels no template condor was built for) streams into a fresh
:class:`daemon.core.engine.Engine`, as ``alvhd run --source sim`` does: ``on_quote`` per
quote, one ``evaluate`` per quote round, ``on_session_close`` per session, and a snapshot
round trip (``snapshot`` → ``restore`` into a new engine, the restart path) every
``--restart-every`` sessions.

Prints sessions/s, the crash count (an exception out of the engine; expected 0), the
``engine`` alerts (evaluations skipped on an extreme state), and RSS samples (from
``/proc/self/statm``) every ``--sample-every`` sessions. Memory is judged flat when every
sample after the warm-up (the first ``--warmup-frac`` of the first seed) is within
``--rss-tolerance`` (5%) of the first one after it. Exit status 1 on a crash or growth.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python bench/soak.py` from anywhere
    sys.path.insert(0, str(REPO))

from adapters.sim import SimSource  # noqa: E402
from daemon.app import trading_sessions  # noqa: E402
from daemon.core.engine import Engine  # noqa: E402
from daemon.core.model import Alert, AlertKind, Quote, SessionClose, Symbol  # noqa: E402
from daemon.logsetup import configure_logging  # noqa: E402
from daemon.settings import load_settings  # noqa: E402

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """Resident set size of this process, bytes (Linux ``/proc/self/statm``)."""
    with Path("/proc/self/statm").open() as fh:
        return int(fh.read().split()[1]) * PAGE_BYTES


@dataclass(slots=True)
class SoakResult:
    """What one soak run measured."""

    sessions: int = 0
    quotes: int = 0
    decisions: int = 0
    engine_alerts: int = 0
    quarantined: int = 0
    """Quotes the plausibility filter quarantined (simulated moves beyond its bands)."""
    confirmed: int = 0
    """Quarantined levels later confirmed as genuine moves."""
    crashes: list[str] = field(default_factory=list)
    rss_samples: list[tuple[int, int]] = field(default_factory=list)
    """(sessions done so far, RSS bytes)."""
    wall_s: float = 0.0


async def soak_seed(
    seed: int,
    sessions: int,
    ticks: int,
    *,
    result: SoakResult,
    sample_every: int,
    restart_every: int,
) -> None:
    """Stream one seed's simulation through a fresh engine; record into ``result``."""
    settings = load_settings()
    params = settings.to_params()
    calendar = trading_sessions()
    source = SimSource(seed=seed, sessions=sessions, ticks_per_session=ticks, session_seconds=0)
    engine = Engine(params, sessions=calendar)
    engine.warm_up({s: await source.history(s, 250) for s in Symbol})
    last_ts = None
    done = 0
    async for event in source.events():
        try:
            if isinstance(event, Quote):
                result.quotes += 1
                if last_ts is not None and event.ts != last_ts:
                    out = engine.evaluate(last_ts)
                    result.decisions += len(out)
                    result.engine_alerts += sum(
                        1 for d in out if isinstance(d, Alert) and d.kind is AlertKind.ENGINE
                    )
                last_ts = event.ts
                engine.on_quote(event)
            elif isinstance(event, SessionClose):
                last_ts = None
                out = engine.on_session_close(event.session_date, event.ts)
                result.decisions += len(out)
                result.engine_alerts += sum(
                    1 for d in out if isinstance(d, Alert) and d.kind is AlertKind.ENGINE
                )
                done += 1
                result.sessions += 1
                if restart_every and done % restart_every == 0:
                    _count_quality(engine, result)
                    data = engine.snapshot()
                    engine = Engine(params, sessions=calendar)
                    engine.restore(data)
                if result.sessions % sample_every == 0:
                    result.rss_samples.append((result.sessions, rss_bytes()))
        except Exception as exc:  # noqa: BLE001 - a bench counts crashes, it does not stop
            result.crashes.append(
                f"seed {seed} session {done}: {type(exc).__name__}: {exc}\n"
                + "".join(traceback.format_exception(exc)[-3:])
            )
            return
    _count_quality(engine, result)
    del source, engine
    gc.collect()


def _count_quality(engine: Engine, result: SoakResult) -> None:
    counts = engine.quality_counts
    result.quarantined += int(counts["quarantined"])
    result.confirmed += int(counts["confirmed_moves"])


def main(argv: list[str] | None = None) -> int:
    """Run the soak; print the figures; 0 when no crash and RSS flat, else 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="number of seeds (1..N)")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--sessions", type=int, default=10_000, help="sessions per seed")
    parser.add_argument("--ticks", type=int, default=12, help="quote rounds per session")
    parser.add_argument("--sample-every", type=int, default=1000, help="sessions per RSS sample")
    parser.add_argument("--restart-every", type=int, default=2500, help="0: never")
    parser.add_argument("--warmup-frac", type=float, default=0.2)
    parser.add_argument("--rss-tolerance", type=float, default=0.05)
    args = parser.parse_args(argv)
    configure_logging("warning", is_tty=True)

    result = SoakResult()
    t0 = time.perf_counter()
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        before = result.sessions
        ts = time.perf_counter()
        asyncio.run(
            soak_seed(
                seed,
                args.sessions,
                args.ticks,
                result=result,
                sample_every=args.sample_every,
                restart_every=args.restart_every,
            )
        )
        n = result.sessions - before
        print(
            f"seed {seed:>3}: {n:>7,} sessions in {time.perf_counter() - ts:6.1f} s, "
            f"RSS {rss_bytes() / 2**20:7.1f} MiB, crashes so far {len(result.crashes)}",
            flush=True,
        )
    result.wall_s = time.perf_counter() - t0

    warm = int(args.sessions * args.warmup_frac)
    after = [(n, b) for n, b in result.rss_samples if n > warm]
    print()
    print(f"sessions            {result.sessions:,} over {args.seeds} seeds")
    print(f"quotes              {result.quotes:,}")
    print(f"decisions           {result.decisions:,}")
    print(f"engine alerts       {result.engine_alerts:,} (evaluations skipped, extreme states)")
    print(f"quarantined quotes  {result.quarantined:,} ({result.confirmed:,} moves confirmed)")
    print(f"throughput          {result.sessions / result.wall_s:,.0f} sessions/s")
    print(f"crashes             {len(result.crashes)}")
    for crash in result.crashes:
        print("  " + crash.replace("\n", "\n  "))
    print("RSS samples (MiB)   " + " ".join(f"{b / 2**20:.1f}" for _, b in result.rss_samples))
    is_flat = True
    if after:
        base = after[0][1]
        worst = max(abs(b / base - 1.0) for _, b in after)
        is_flat = worst <= args.rss_tolerance
        print(
            f"RSS after warm-up   {base / 2**20:.1f} MiB at session {after[0][0]:,}; "
            f"min {min(b for _, b in after) / 2**20:.1f}, "
            f"max {max(b for _, b in after) / 2**20:.1f} MiB; "
            f"largest deviation {worst * 100:.2f}% (limit {args.rss_tolerance * 100:g}%): "
            f"{'flat' if is_flat else 'GROWING'}"
        )
    return 0 if not result.crashes and is_flat else 1


if __name__ == "__main__":
    sys.exit(main())
