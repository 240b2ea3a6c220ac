"""Session close → last message of its burst at an independent MQTT subscriber (issue 9).

Run: ``uv run python bench/burst_bench.py [--closes N] [--burst K]``

In one process: the real ``Pipeline`` with the real SQLite journal (WAL; decisions
synchronous=FULL, published marks NORMAL: ``docs/journal.md``) and the real
``MqttPublisher`` on a private mosquitto, pipelined as ``alvhd run`` builds it without IB
(a burst journaled in one transaction, up to ``PUBLISH_WINDOW`` QoS 1 publishes in
flight), logging at the daemon's info level (JSON lines to /dev/null); a
scripted engine whose every session close yields a burst of ``K`` alerts; an independent
paho subscriber in its own process (its own interpreter: no GIL shared with the daemon).
For each close the clock starts when the ``SessionClose`` is handed to the pipeline and
stops when the subscriber has received the burst's last message (``CLOCK_MONOTONIC`` is
system-wide). Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
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
    Bar,
    Decision,
    Layer,
    MarketEvent,
    Quote,
    Rejected,
    SessionClose,
    Severity,
    Symbol,
)
from daemon.logsetup import configure_logging
from daemon.pipeline import PUBLISH_WINDOW, Pipeline

PREFIX = "alvhd-burst"
SCRIPT = str(Path(__file__).resolve())
_IDLE_S = 0.002
"""A read turn of the subscriber this long without a message: idle, print (seconds)."""


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

    async def history(self, symbol: Symbol, days: int) -> Sequence[Bar]:  # noqa: ARG002
        return []

    def rejected_count(self) -> int:
        return 0


def subscribe_main(port: int, topic: str) -> None:
    """Subscriber process: print ``<time.monotonic()> <decision_id>`` per message received.

    What it measures: the ``CLOCK_MONOTONIC`` time (system-wide on Linux, so the bench
    compares it with its own) at which paho hands each message to ``on_message``, i.e. as
    soon as its PUBLISH packet was read from the socket and parsed; the QoS 1 PUBACK is
    sent right after. The process is one thread driving paho's loop itself (no
    ``loop_start``): a second thread printing lines would compete with the stamping
    thread for the GIL and the CPU, and so delay the stamps it is meant to take. Lines
    are printed only when idle: once a read turn of ``_IDLE_S`` brings no new message
    (the bench leaves 20 ms between bursts, so a burst's lines are printed after its
    last message, never in the middle of it). Prints ``ready`` once subscribed; runs
    until stdin closes (watched by a thread that only blocks in ``read``).
    """
    import json  # noqa: PLC0415 - the subscriber process only

    out = sys.stdout
    subscribed = threading.Event()
    stdin_closed = threading.Event()
    received: list[tuple[float, bytes | bytearray]] = []

    def on_message(_c: object, _u: object, msg: paho.MQTTMessage) -> None:
        received.append((time.monotonic(), msg.payload))

    def flush() -> None:
        for stamp, payload in received:
            try:
                decision_id = json.loads(payload).get("decision_id")
            except ValueError:
                continue
            if isinstance(decision_id, str):
                out.write(f"{stamp:.6f} {decision_id}\n")
        received.clear()
        out.flush()

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-subscriber-{port}")
    client.on_message = on_message
    client.on_subscribe = lambda *_a: subscribed.set()
    client.connect("127.0.0.1", port)
    client.subscribe(topic, qos=1)
    deadline = time.monotonic() + 10.0
    while not subscribed.is_set():
        if time.monotonic() > deadline:
            raise SystemExit("subscriber: no SUBACK within 10 s")
        client.loop(0.05)
    out.write("ready\n")
    out.flush()

    def wait_stdin_closed() -> None:
        sys.stdin.read()
        stdin_closed.set()

    threading.Thread(target=wait_stdin_closed, daemon=True).start()
    while not stdin_closed.is_set():  # until the bench closes the pipe
        waiting = len(received)
        client.loop(_IDLE_S if waiting else 0.05)
        if waiting and len(received) == waiting:  # a turn without news: print now
            flush()
    client.disconnect()
    flush()


class Subscriber:
    """An independent MQTT subscriber in its own process (its own interpreter and GIL).

    Records the ``time.monotonic()`` at which each ``decision_id`` arrived (its first
    arrival; later ones count as duplicates). Start with ``await Subscriber.start(...)``.
    """

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.arrived: dict[str, float] = {}
        self.duplicates = 0
        self.changed = asyncio.Event()
        """Set whenever new arrivals were read (the bench waits on it: no polling loop
        in the daemon's process competing with the path it measures)."""
        self._proc = proc
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, port: int, topic: str) -> Subscriber:
        """Spawn the subscriber on ``topic`` and wait until it is subscribed."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            SCRIPT,
            "--subscribe",
            str(port),
            topic,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        if proc.stdout is None:
            raise SystemExit("subscriber: no stdout pipe")
        line = await asyncio.wait_for(proc.stdout.readline(), 15.0)
        if line.strip() != b"ready":
            raise SystemExit(f"subscriber did not start: {line!r}")
        sub = cls(proc)
        sub._reader = asyncio.create_task(sub._read())
        return sub

    async def _read(self) -> None:
        if self._proc.stdout is None:
            return
        async for line in self._proc.stdout:
            stamp, decision_id = line.decode().split()
            if decision_id in self.arrived:
                self.duplicates += 1
            else:
                self.arrived[decision_id] = float(stamp)
            self.changed.set()

    def last_of(self, ids: Sequence[str]) -> float | None:
        """When the last of ``ids`` arrived, None while one is missing."""
        if not all(i in self.arrived for i in ids):
            return None
        return max(self.arrived[i] for i in ids)

    async def close(self) -> None:
        """Stop the subscriber process."""
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            await asyncio.wait_for(self._proc.wait(), 5.0)
        except TimeoutError:
            self._proc.kill()
            await self._proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


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
    subscriber = await Subscriber.start(port, f"{PREFIX}/+/alerts/#")
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
        publish_window=PUBLISH_WINDOW,
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
            # the subscriber's arrival stamps are exact; the bench only waits for its pipe
            try:
                async with asyncio.timeout(10.0):
                    while (last := subscriber.last_of(ids)) is None:
                        subscriber.changed.clear()
                        await subscriber.changed.wait()
            except TimeoutError:
                raise SystemExit(f"close {n} not delivered within 10 s") from None
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
        await subscriber.close()
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
    parser.add_argument("--log-level", default="info", help="the daemon's log level (info)")
    parser.add_argument("--subscribe", nargs=2, metavar=("PORT", "TOPIC"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.subscribe is not None:
        subscribe_main(int(args.subscribe[0]), args.subscribe[1])
        return
    # the daemon's default level, JSON lines (as under systemd), written to /dev/null
    with Path(os.devnull).open("w", encoding="utf-8") as sink:
        configure_logging(args.log_level, stream=sink, is_tty=False)
        asyncio.run(amain(args.closes, args.burst))


if __name__ == "__main__":
    main()
