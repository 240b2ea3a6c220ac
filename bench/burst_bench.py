"""Session close → last message of its burst at an independent MQTT subscriber (issue 9).

Run: ``uv run python bench/burst_bench.py [--closes N] [--burst K]``

In one process: the real ``Pipeline`` with the real SQLite journal (WAL, synchronous=FULL)
and the real ``MqttPublisher`` on a private mosquitto; a scripted engine whose every
session close yields a burst of ``K`` alerts; an independent paho subscriber (its own
thread and connection). For each close the clock starts when the ``SessionClose`` is handed
to the pipeline and stops when the subscriber has received the burst's last message.
Figures are printed, not asserted. (The pipelined publisher of issue 9 is not merged yet:
this measures the sequential path, each decision journaled, acknowledged and marked
published one after another.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from adapters.clock import SystemClock
from adapters.mqtt import embedded
from adapters.mqtt.publisher import MqttPublisher
from adapters.mqtt.topics import Topics
from adapters.sqlite.journal import SqliteJournal
from daemon.core.model import (
    Alert,
    AlertKind,
    Decision,
    Layer,
    MarketEvent,
    Quote,
    Rejected,
    SessionClose,
    Severity,
)
from daemon.logsetup import configure_logging
from daemon.pipeline import Pipeline

PREFIX = "alvhd-burst"


class BurstEngine:
    """Engine stand-in: every close yields ``burst`` alerts with fresh ids."""

    def __init__(self, burst: int, tag: str) -> None:
        self.burst = burst
        self.tag = tag

    def on_quote(self, quote: Quote) -> Rejected | None:  # noqa: ARG002 - no quotes here
        return None

    def evaluate(self, now: datetime) -> Sequence[Decision]:  # noqa: ARG002
        return []

    def on_session_close(self, session_date: date, now: datetime) -> Sequence[Decision]:
        return [
            Alert(
                decision_id=f"{self.tag}-{session_date}-{i}",
                ts=now,
                kind=AlertKind.LAYER_ACTIVATED,
                severity=Severity.WARNING,
                key=f"{self.tag}-{session_date}-{i}",
                message=f"burst message {i}",
                layer=Layer.L1,
            )
            for i in range(self.burst)
        ]

    def on_heartbeat(self, now: datetime) -> Sequence[Decision]:  # noqa: ARG002
        return []

    def snapshot(self) -> bytes:
        return b"{}"

    @property
    def active_layers(self) -> tuple[Layer, ...]:
        return ()


class QueueSource:
    """Market events pushed by the bench; ends on ``None``."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[MarketEvent | None] = asyncio.Queue()

    async def events(self) -> AsyncIterator[MarketEvent]:
        while (event := await self.queue.get()) is not None:
            yield event

    async def history(self, symbol: object, days: int) -> Sequence[object]:  # noqa: ARG002
        return []

    def rejected_count(self) -> int:
        return 0


class Subscriber:
    """Independent paho subscriber: ``time.monotonic()`` of each decision id's arrival."""

    def __init__(self, port: int) -> None:
        self.arrived: dict[str, float] = {}
        self.duplicates = 0
        self._lock = threading.Lock()
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id="burst-subscriber")
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.subscribe(f"{PREFIX}/+/alerts/#", qos=1)
        self._client.loop_start()

    def _on_message(self, _c: object, _u: object, msg: paho.MQTTMessage) -> None:
        now = time.monotonic()
        decision_id = msg.payload.split(b'"decision_id":"', 1)[1].split(b'"', 1)[0].decode()
        with self._lock:
            if decision_id in self.arrived:
                self.duplicates += 1
            self.arrived.setdefault(decision_id, now)

    def last_of(self, ids: Sequence[str]) -> float | None:
        with self._lock:
            if not all(i in self.arrived for i in ids):
                return None
            return max(self.arrived[i] for i in ids)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


async def run_case(port: int, workdir: Path, *, closes: int, burst: int) -> None:
    """One pipeline: ``closes`` closes, each burst timed to its last arrival."""
    tag = "seq"
    clock = SystemClock()
    journal = await SqliteJournal.open(workdir / f"{tag}.sqlite")
    publisher = MqttPublisher(
        hostname="127.0.0.1",
        port=port,
        topics=Topics(prefix=PREFIX, instance=tag),
        clock=clock,
        mode="paper",
        source="bench",
        version="bench",
    )
    subscriber = Subscriber(port)
    source = QueueSource()
    pipeline = Pipeline(
        BurstEngine(burst, tag),
        source,
        journal,
        publisher,
        publisher,
        clock,
        debounce_s=0.25,
        interval_s=60.0,
        is_live=False,
        outbox_size=1000,
    )
    tasks = [
        asyncio.create_task(publisher.run()),
        asyncio.create_task(pipeline.run_engine()),
        asyncio.create_task(pipeline.run_publisher()),
    ]
    latencies_ms: list[float] = []
    try:
        while not publisher.is_connected:  # noqa: ASYNC110 - a property, no event to await
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # the subscriber is subscribed
        day = date(2030, 1, 1)
        for n in range(closes):
            day += timedelta(days=1)
            ids = [f"{tag}-{day}-{i}" for i in range(burst)]
            t0 = time.monotonic()
            await source.queue.put(SessionClose(session_date=day, ts=datetime.now(UTC)))
            deadline = t0 + 10.0
            # the subscriber is another thread: poll it every 0.2 ms
            while (last := subscriber.last_of(ids)) is None and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.0002)
            if last is None:
                raise SystemExit(f"close {n} not delivered within 10 s")
            latencies_ms.append((last - t0) * 1e3)
            await asyncio.sleep(0.02)
        await source.queue.put(None)
        await asyncio.wait_for(pipeline.wait_finished(), 10.0)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await publisher.aclose()
        unpublished = len(await journal.unpublished())
        await journal.aclose()
        subscriber.close()
    lat = np.asarray(latencies_ms)
    p50, p99 = np.percentile(lat, 50), np.percentile(lat, 99)
    print(
        f"  close → last of {burst} delivered  p50 {p50:5.1f} ms"
        f"   p99 {p99:5.1f} ms   max {lat.max():5.1f} ms"
        f"   ({closes} closes; {subscriber.duplicates} duplicates, {unpublished} unpublished)"
    )


async def amain(closes: int, burst: int) -> None:
    """Both cases on one private mosquitto."""
    with tempfile.TemporaryDirectory(prefix="alvhd-burst-") as tmp:
        work = Path(tmp)
        broker = embedded.start_mosquitto(work)
        try:
            print(f"session close → burst delivered at an independent subscriber ({burst}/close)")
            await run_case(broker.port, work, closes=closes, burst=burst)
        finally:
            broker.stop(5.0)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments and run both cases."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--closes", type=int, default=200)
    parser.add_argument("--burst", type=int, default=10)
    args = parser.parse_args(argv)
    configure_logging("warning")
    asyncio.run(amain(args.closes, args.burst))


if __name__ == "__main__":
    main()
