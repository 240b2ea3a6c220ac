"""The live path under load: quotes per second → session close → decision at a subscriber.

Run: ``uv run python bench/live_bench.py [--rates 10,100,1000] [--sessions N]
[--session-seconds S]``

For each quote rate, in this process: the seeded simulator (``alvhd run --source sim``'s
source, paced in wall time: ``ticks_per_session`` rounds of one quote per symbol spread
over ``session_seconds``, then the session close), the real engine (default settings,
warmed up on the simulator's calm history), the real ``Pipeline`` (as ``alvhd run``
builds it for the simulator: MQTT-only, pipelined publishing, journal group commit), the
real SQLite journal (WAL; decisions FULL, published marks NORMAL) and the real
``MqttPublisher`` on a private mosquitto, at the daemon's info log level (JSON lines to
/dev/null). An independent
subscriber in its own process (``burst_bench.py --subscribe``) records when each
decision arrives.

Printed per rate: the quote rate achieved, session closes and those with decisions,
close → last decision of that close delivered (p50 / p99 / max; the clock starts when
the pipeline hands the close to the engine), decisions heard / journaled / duplicates,
and the daemon's CPU: this process's CPU time (all threads: the event loop, the journal
thread) over wall time, in % of one core. The subscriber and mosquitto are other
processes and not counted. Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np

from adapters.clock import SystemClock
from adapters.mqtt import embedded
from adapters.mqtt.publisher import MqttPublisher
from adapters.mqtt.topics import Topics
from adapters.sim import SYMBOLS, SimSource
from adapters.sqlite.journal import SqliteJournal
from daemon.app import trading_sessions, warm_up
from daemon.core.engine import Engine
from daemon.core.model import Decision, Layer, Quote, Rejected
from daemon.logsetup import configure_logging
from daemon.pipeline import PUBLISH_WINDOW, Pipeline
from daemon.settings import load_settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from burst_bench import Subscriber

PREFIX = "alvhd-live"


@dataclass
class Closes:
    """Close → decision ids and when the pipeline handed each close to the engine."""

    started: dict[date, float] = field(default_factory=dict)
    engine_s: dict[date, float] = field(default_factory=dict)
    decisions: dict[date, list[str]] = field(default_factory=dict)
    quotes: int = 0


class TimedEngine:
    """The real engine, with each session close's start time and decision ids recorded."""

    def __init__(self, engine: Engine, closes: Closes) -> None:
        self._engine = engine
        self._closes = closes

    def on_quote(self, quote: Quote) -> Rejected | None:
        self._closes.quotes += 1
        return self._engine.on_quote(quote)

    def evaluate(self, now: datetime) -> Sequence[Decision]:
        return self._engine.evaluate(now)

    def on_session_close(self, session_date: date, now: datetime) -> Sequence[Decision]:
        t0 = self._closes.started[session_date] = time.monotonic()
        decisions = self._engine.on_session_close(session_date, now)
        self._closes.engine_s[session_date] = time.monotonic() - t0
        self._closes.decisions[session_date] = [d.decision_id for d in decisions]
        return decisions

    def on_heartbeat(self, now: datetime) -> Sequence[Decision]:
        return self._engine.on_heartbeat(now)

    def snapshot(self) -> bytes:
        return self._engine.snapshot()

    @property
    def active_layers(self) -> tuple[Layer, ...]:
        return self._engine.active_layers


async def run_rate(port: int, workdir: Path, rate: int, sessions: int, session_s: float) -> None:
    """One rate: a fresh journal, engine and pipeline; print its line."""
    settings = load_settings()
    ticks = max(1, round(rate * session_s / len(SYMBOLS)))
    session_s = ticks * len(SYMBOLS) / rate  # exactly ``rate`` quotes per second
    sim = SimSource(
        seed=settings.sim.seed,
        start=settings.sim.start,
        sessions=sessions,
        ticks_per_session=ticks,
        session_seconds=session_s,
    )
    engine = Engine(settings.to_params(), sessions=trading_sessions(), assume_fills=True)
    await warm_up(engine, sim, settings.replay.warmup_days)
    closes = Closes()
    tag = f"r{rate}"
    clock = SystemClock()
    journal = await SqliteJournal.open(workdir / f"{tag}.sqlite")
    publisher = MqttPublisher(
        hostname="127.0.0.1",
        port=port,
        topics=Topics(prefix=PREFIX, instance=tag),
        clock=clock,
        mode="paper",
        source="sim",
        version="bench",
    )
    subscriber = await Subscriber.start(port, f"{PREFIX}/{tag}/#")
    service = settings.service
    pipeline = Pipeline(
        TimedEngine(engine, closes),
        sim,
        journal,
        publisher,
        publisher,
        clock,
        debounce_s=service.eval_debounce_ms / 1000,
        interval_s=service.eval_interval_s,
        is_live=False,
        outbox_size=service.outbox_size,
        on_layers=publisher.publish_layers,
        publish_window=PUBLISH_WINDOW,
    )
    runner = asyncio.create_task(publisher.run())
    while not publisher.is_connected:  # noqa: ASYNC110 - a property, no event to await
        await asyncio.sleep(0.01)
    tasks = [
        asyncio.create_task(pipeline.run_engine()),
        asyncio.create_task(pipeline.run_publisher()),
    ]
    wall0, cpu0 = time.monotonic(), time.process_time()
    try:
        await asyncio.wait_for(pipeline.wait_finished(), sessions * session_s * 3 + 60)
        wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
        await asyncio.sleep(0.5)  # the last arrivals reach the subscriber's pipe
    finally:
        for task in [*tasks, runner]:
            task.cancel()
        for task in [*tasks, runner]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await publisher.aclose()
        journaled = set(await journal.all_ids())
        await journal.aclose()
        await subscriber.close()
    latencies_ms = []
    engine_ms = []
    missing = 0
    for day, ids in closes.decisions.items():
        if not ids:
            continue
        last = subscriber.last_of(ids)
        if last is None:
            missing += 1
            continue
        latencies_ms.append((last - closes.started[day]) * 1e3)
        engine_ms.append(closes.engine_s[day] * 1e3)
    heard = len(journaled & set(subscriber.arrived))
    lat = np.asarray(latencies_ms) if latencies_ms else np.asarray([np.nan])
    print(
        f"  {rate:>5} quotes/s target, {closes.quotes / wall:7.1f} achieved"
        f"  | {len(closes.decisions)} closes, {len(latencies_ms)} with decisions:"
        f" close → delivered p50 {np.percentile(lat, 50):5.1f} ms"
        f"  p99 {np.percentile(lat, 99):5.1f} ms  max {np.max(lat):5.1f} ms"
        f" (engine's close p50 {np.median(engine_ms) if engine_ms else np.nan:4.2f} ms)"
        f"  | heard {heard}/{len(journaled)} decisions, {subscriber.duplicates} duplicates,"
        f" {missing} closes undelivered"
        f"  | daemon CPU {100 * cpu / wall:5.1f}% of a core"
    )


async def amain(rates: Sequence[int], sessions: int, session_s: float) -> None:
    """Every rate on one private mosquitto."""
    with tempfile.TemporaryDirectory(prefix="alvhd-live-") as tmp:
        work = Path(tmp)
        broker = embedded.start_mosquitto(work)
        try:
            print(
                f"live path: simulator → engine → journal → MQTT → independent subscriber"
                f" ({sessions} sessions of {session_s:g} s per rate; load {os.getloadavg()[0]:.2f})"
            )
            for rate in rates:
                await run_rate(broker.port, work, rate, sessions, session_s)
        finally:
            broker.stop(5.0)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments and run each rate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="10,100,1000", help="quotes per second, comma-separated")
    parser.add_argument("--sessions", type=int, default=40, help="simulated sessions per rate")
    parser.add_argument("--session-seconds", type=float, default=1.0)
    args = parser.parse_args(argv)
    rates = [int(r) for r in args.rates.split(",")]
    with Path(os.devnull).open("w", encoding="utf-8") as sink:
        configure_logging("info", stream=sink, is_tty=False)
        asyncio.run(amain(rates, args.sessions, args.session_seconds))


if __name__ == "__main__":
    main()
